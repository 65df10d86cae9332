package store

import (
	"os"
	"testing"
)

// TestMain makes calls split across the worker pool from 64 rows and 64 KiB
// of output on, instead of the production thresholds (see piecesFor), so
// that tests on small tables exercise the pool. TestPiecesFor checks the
// production thresholds.
func TestMain(m *testing.M) {
	minRowsPerPiece, minBytesPerPiece = 64, 64<<10
	os.Exit(m.Run())
}

func TestPiecesFor(t *testing.T) {
	defer func(r, b int) { minRowsPerPiece, minBytesPerPiece = r, b }(minRowsPerPiece, minBytesPerPiece)
	minRowsPerPiece, minBytesPerPiece = 256, 1<<20
	for _, c := range []struct{ units, n, dim, workers, want int }{
		{8192, 8192, 768, 1, 2},   // GPT-2 batch: split
		{128, 128, 768, 1, 1},     // small batch: a hand-off would cost more than it saves
		{682, 682, 768, 1, 2},     // two pieces of 1 MiB
		{681, 681, 768, 1, 1},     //
		{8192, 8192, 64, 15, 2},   // narrow rows: 4096 rows per piece at least
		{8192, 8192, 768, 15, 16}, // 16 goroutines, 512 rows (1.5 MiB) each
		{8192, 256, 768, 1, 2},    // bags: balanced by ids
		{2048, 2048, 768, 15, 6},  // as many 1 MiB pieces as fit
		{0, 0, 768, 3, 1},
	} {
		if got := piecesFor(c.units, c.n, c.dim, c.workers); got != c.want {
			t.Errorf("piecesFor(%d, %d, %d, %d) = %d; want %d", c.units, c.n, c.dim, c.workers, got, c.want)
		}
	}
}
