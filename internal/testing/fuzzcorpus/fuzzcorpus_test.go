package fuzzcorpus

import (
	"fmt"
	"math"
	"testing"
)

// TestCorpusFileFormat checks the corpus codec against a file as `go test
// -fuzz` writes one, and against itself.
func TestCorpusFileFormat(t *testing.T) {
	goWrites := "go test fuzz v1\n[]byte(\"\\x00a\\xff\")\nint64(-5)\nbool(true)\nbyte('\\u0080')\nint(7)\nuint16(65535)\nuint32(4294967295)\nuint64(18446744073709551615)\nstring(\"x\\n\")\n"
	want := []any{[]byte("\x00a\xff"), int64(-5), true, byte(0x80), 7, uint16(math.MaxUint16), uint32(math.MaxUint32), uint64(math.MaxUint64), "x\n"}
	got, err := Parse(goWrites)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Fatalf("parsed %#v; want %#v", got, want)
	}
	if again := string(Marshal(want...)); again != goWrites {
		t.Fatalf("marshalled\n%s\nwant\n%s", again, goWrites)
	}
	if v, err := parseValue("byte", `'\x80'`); err != nil || v != byte(0x80) {
		t.Fatalf("byte('\\x80') parsed as %v, %v", v, err)
	}
	for _, bad := range []string{"", "go test fuzz v2\nint(1)\n", "go test fuzz v1\nfloat64(1)\n", "go test fuzz v1\nint64 5\n", "go test fuzz v1\nuint16(65536)\n"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
