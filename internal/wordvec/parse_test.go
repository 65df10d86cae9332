package wordvec

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestParseValueNumpy compares ParseValue with numpy.float32(s), which is
// how gensim reads a value, on decimals of every shape: float32 midpoints
// at every scale and just beside them (where rounding through float64
// differs from rounding once), subnormals, long and short decimals.
func TestParseValueNumpy(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtureDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Numbers [][2]json.RawMessage `json:"numbers"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Numbers) < 1000 {
		t.Fatalf("%d numbers", len(e.Numbers))
	}
	doubleRounded := 0
	for _, n := range e.Numbers {
		var s string
		var want uint32
		if json.Unmarshal(n[0], &s) != nil || json.Unmarshal(n[1], &want) != nil {
			t.Fatalf("bad entry %s", n)
		}
		got, ok := ParseValue([]byte(s))
		if !ok || math.Float32bits(got) != want {
			t.Errorf("ParseValue(%q) = %#08x, %v; numpy %#08x", s, math.Float32bits(got), ok, want)
		}
		if once, _ := strconv.ParseFloat(s, 32); math.Float32bits(float32(once)) != want {
			doubleRounded++
		}
	}
	// The cases must include some where one rounding would be wrong.
	if doubleRounded < 20 {
		t.Errorf("only %d cases where rounding once differs from numpy", doubleRounded)
	}
}

var decimalSyntax = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// reference parses as Python and numpy do, by the slow road: the syntax,
// then strconv to float64, then float32.
func reference(s string) (float32, bool) {
	if !decimalSyntax.MatchString(s) {
		return special([]byte(s[min(len(s), signLen(s)):]), len(s) > 0 && s[0] == '-')
	}
	f, _ := strconv.ParseFloat(s, 64)
	return toFloat32(f), true
}

func signLen(s string) int {
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		return 1
	}
	return 0
}

// TestParseValueRandom checks the fast path against the slow road on
// random decimals.
func TestParseValueRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789"
	for i := range 300000 {
		var s []byte
		switch rng.IntN(4) {
		case 0:
			s = strconv.AppendFloat(nil, float64(math.Float32frombits(rng.Uint32())), "eEfg"[rng.IntN(4)], rng.IntN(12)-1, 32)
		case 1:
			s = strconv.AppendFloat(nil, rng.NormFloat64()*math.Pow(10, float64(rng.IntN(20)-10)), 'g', rng.IntN(20)+1, 64)
		default:
			if rng.IntN(3) == 0 {
				s = append(s, "+-"[rng.IntN(2)])
			}
			for range rng.IntN(25) {
				s = append(s, alphabet[rng.IntN(10)])
			}
			if rng.IntN(2) == 0 {
				s = append(s, '.')
				for range rng.IntN(25) {
					s = append(s, alphabet[rng.IntN(10)])
				}
			}
			if rng.IntN(3) == 0 {
				s = append(s, "eE"[rng.IntN(2)])
				if rng.IntN(2) == 0 {
					s = append(s, "+-"[rng.IntN(2)])
				}
				s = strconv.AppendInt(s, int64(rng.IntN(60)), 10)
			}
		}
		got, ok := ParseValue(s)
		want, wok := reference(string(s))
		if ok != wok || ok && math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("case %d: ParseValue(%q) = %#08x, %v; reference %#08x, %v", i, s, math.Float32bits(got), ok, math.Float32bits(want), wok)
		}
	}
}
