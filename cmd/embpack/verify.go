package main

import (
	"fmt"
	"strings"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
)

var verifyCommand = cli.Command{
	Name:     "embpack verify",
	Synopsis: "embpack verify [-q] FILE",
	Help: `
Verify reads the whole table and recomputes the checksum of every section,
and checks that all padding is zero, and the content of the vocabulary
(offsets, no duplicate strings, the hash index), tokenizer (decompresses to
its length of valid JSON, and this embpack can run it with ids inside the
table) and norms (each the norm of its row) sections. It prints one line per
check and exits 0 only if every check holds; any single flipped bit in the
file is caught.
With -q it prints nothing when every check holds; a failure is still
reported (the failed checks, and one line on standard error).`,
}

func runVerify(e env, args []string) error {
	fs := cli.NewFlagSet(verifyCommand)
	quiet := fs.BoolP("quiet", "q", false, "print nothing if every check holds (failures are still reported)")
	if err := cli.Parse(fs, verifyCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one FILE, got %d arguments", fs.NArg())
	}
	name := fs.Arg(0)
	f, err := format.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	checks, err := f.Verify()
	checks = append(checks, tokenizerCheck(f.Reader, checks)...)
	failed := 0
	for _, c := range checks {
		status := "ok  "
		if c.Err != nil {
			status = "FAIL"
			failed++
		}
		if *quiet && c.Err == nil {
			continue
		}
		line := fmt.Sprintf("%s %-24s offset %d length %d", status, c.Name, c.Offset, c.Length)
		if !strings.HasPrefix(c.Name, "padding") && c.Name != tokenizerLoads {
			line += fmt.Sprintf(" crc %#08x", c.Want)
		}
		if c.Err != nil {
			line += fmt.Sprintf(": %v", c.Err)
		}
		fmt.Fprintln(e.Stdout, line)
	}
	if err != nil && failed == 0 {
		return err // an I/O error, not a failed check
	}
	if failed > 0 {
		return fmt.Errorf("%s: %d of %d checks failed", name, failed, len(checks))
	}
	if !*quiet {
		fmt.Fprintf(e.Stdout, "%s: all %d checks passed (header crc %#08x)\n", name, len(checks), f.CRC)
	}
	return nil
}

// tokenizerLoads names the check that the table's tokenizer can be used.
const tokenizerLoads = "tokenizer loads"

// tokenizerCheck returns a check that the table's tokenizer loads with this
// embpack's tokenizer package and that its ids fit the table, when the
// table has one whose section verified; else nothing.
func tokenizerCheck(r *format.Reader, checks []format.Check) []format.Check {
	s, ok := r.Section(format.SectionTokenizer)
	if !ok {
		return nil
	}
	for _, c := range checks {
		if c.Name == s.Kind.String() && c.Err != nil {
			return nil // the section itself failed
		}
	}
	c := format.Check{Name: tokenizerLoads, Offset: s.Offset, Length: s.Length}
	if _, err := loadTokenizer(r); err != nil {
		c.Err = err
	}
	return []format.Check{c}
}
