package server

import (
	"context"
	"errors"
	"math"
	"net/http"

	"github.com/embstore/embstore/store"
)

// emitFunc receives computed rows: vals holds rows first, first+1, ... of
// the response, dim values each.
type emitFunc func(vals []float32, first int) *apiError

// storeErr turns a store error into a request error; param names the id at
// fault from its index in the request's ids.
func storeErr(err error, param func(k int) string) *apiError {
	var ie *store.IndexError
	var pe *store.PositionError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		p := ie.Arg
		if param != nil {
			p = param(ie.Index)
		}
		return errorf(http.StatusBadRequest, p, "id_out_of_range", "%s: %d is out of range [0, %d) of the %s", p, ie.Value, ie.Limit, ie.What)
	case errors.As(err, &pe):
		return errorf(http.StatusBadRequest, "start", "position_out_of_range", "%s", trimPrefix(pe.Error()))
	case errors.Is(err, store.ErrNoPositions):
		return errorf(http.StatusBadRequest, "positions", "no_positions", "the table has no positional table")
	case errors.Is(err, store.ErrClosed):
		return errorf(http.StatusServiceUnavailable, "", "table_closed", "the table was closed; retry")
	}
	var ue *UpstreamError
	if errors.As(err, &ue) {
		return errorf(ue.Status, "", "upstream_error", "%s", trimPrefix(ue.Err.Error()))
	}
	if errors.Is(err, context.Canceled) {
		return errorf(499, "", "cancelled", "request cancelled: %v", err)
	}
	var fe *store.FaultError
	if errors.As(err, &fe) {
		return errorf(http.StatusInternalServerError, "", "table_fault", "%s", trimPrefix(err.Error()))
	}
	return errorf(http.StatusBadRequest, "", "invalid_value", "%s", trimPrefix(err.Error()))
}

func trimPrefix(s string) string {
	const p = "embstore: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// lookupRows computes the rows of q from t in chunks of at most chunkRows
// rows and passes them to emit. Every id and position is checked before the
// first row is computed, so an error comes before any output.
func lookupRows(ctx context.Context, t Table, q *lookupQuery, emit emitFunc) *apiError {
	ids := q.ids.ids
	dim := t.Dim()
	param := func(k int) string { return q.ids.paramOf("ids", k) }
	chunk := chunkFor(t, dim)
	bufp := getFloats(min(chunk, len(ids)) * dim)
	defer putFloats(bufp)
	buf := *bufp

	if q.section == "positions" {
		rows := t.Positions()
		if rows == 0 {
			return errorf(http.StatusBadRequest, "section", "no_positions", "section \"positions\": the table has no positional table")
		}
		for k, r := range ids {
			if r < 0 || r >= rows {
				return errorf(http.StatusBadRequest, param(k), "id_out_of_range", "%s: %d is out of range [0, %d) of the positional table", param(k), r, rows)
			}
		}
		for lo := 0; lo < len(ids); lo += chunk {
			hi := min(lo+chunk, len(ids))
			if err := t.LookupPositionRows(ctx, buf[:(hi-lo)*dim], ids[lo:hi]); err != nil {
				return storeErr(err, param)
			}
			if err := emit(buf[:(hi-lo)*dim], lo); err != nil {
				return err
			}
		}
		return nil
	}
	if err := t.CheckIDs(ids); err != nil {
		return storeErr(err, param)
	}
	if !q.positions {
		for lo := 0; lo < len(ids); lo += chunk {
			hi := min(lo+chunk, len(ids))
			if err := t.Lookup(ctx, buf[:(hi-lo)*dim], ids[lo:hi]); err != nil {
				return storeErr(err, param)
			}
			if err := emit(buf[:(hi-lo)*dim], lo); err != nil {
				return err
			}
		}
		return nil
	}
	// Positions: the sequences are the inner arrays, or runs of seq_len
	// ids, or the whole list.
	seqs := q.ids.starts
	if q.seqLen > 0 {
		if int64(len(ids))%q.seqLen != 0 {
			return badRequest("seq_len", "seq_len: %d ids are not a whole number of sequences of %d", len(ids), q.seqLen)
		}
		seqs = nil
		for o := int64(0); o < int64(len(ids)); o += q.seqLen {
			seqs = append(seqs, o)
		}
	}
	longest := 0
	for i := range seqs {
		longest = max(longest, seqLenAt(seqs, i, len(ids)))
	}
	if err := t.CheckPositions(longest, q.start); err != nil {
		return storeErr(err, param)
	}
	// Equal-length sequences that fit a chunk go several to a call; others
	// one piece at a time, each piece with its own first position.
	for i := 0; i < len(seqs); {
		lo := int(seqs[i])
		n := seqLenAt(seqs, i, len(ids))
		if n <= chunk {
			j := i + 1
			for j < len(seqs) && seqLenAt(seqs, j, len(ids)) == n && (j-i+1)*n <= chunk {
				j++
			}
			hi := lo + (j-i)*n
			if err := t.LookupPositions(ctx, buf[:(hi-lo)*dim], ids[lo:hi], n, q.start); err != nil {
				return storeErr(err, param)
			}
			if err := emit(buf[:(hi-lo)*dim], lo); err != nil {
				return err
			}
			i = j
			continue
		}
		for o := 0; o < n; o += chunk {
			m := min(chunk, n-o)
			if err := t.LookupPositions(ctx, buf[:m*dim], ids[lo+o:lo+o+m], m, q.start+int64(o)); err != nil {
				return storeErr(err, param)
			}
			if err := emit(buf[:m*dim], lo+o); err != nil {
				return err
			}
		}
		i++
	}
	return nil
}

// seqLenAt returns the length of sequence i of a list of sequence starts
// over n ids.
func seqLenAt(starts []int64, i, n int) int {
	end := int64(n)
	if i+1 < len(starts) {
		end = starts[i+1]
	}
	return int(end - starts[i])
}

// bagRows pools q's bags from t in chunks and passes them to emit. q was
// normalised (see bagQuery.normalise): offsets are checked and start at 0.
func bagRows(ctx context.Context, t Table, q *bagQuery, emit emitFunc) *apiError {
	if err := t.CheckIDs(q.ids); err != nil {
		return storeErr(err, q.param)
	}
	if o := q.opts; o.PaddingIdx != nil && (*o.PaddingIdx < -t.Rows() || *o.PaddingIdx >= t.Rows()) {
		return badRequest("padding_idx", "padding_idx: %d is out of range [%d, %d)", *o.PaddingIdx, -t.Rows(), t.Rows())
	}
	dim := t.Dim()
	bags := len(q.offsets)
	chunk := chunkFor(t, dim)
	bufp := getFloats(min(chunk, bags) * dim)
	defer putFloats(bufp)
	buf := *bufp
	offp := getIDs(min(chunk, bags))
	defer putIDs(offp)
	opts := q.opts
	for lo := 0; lo < bags; lo += chunk {
		hi := min(lo+chunk, bags)
		first := q.offsets[lo]
		end := int64(len(q.ids))
		if hi < bags {
			end = q.offsets[hi]
		}
		offs := (*offp)[:hi-lo]
		for i := range offs {
			offs[i] = q.offsets[lo+i] - first
		}
		if q.opts.PerSampleWeights != nil {
			opts.PerSampleWeights = q.opts.PerSampleWeights[first:end]
		}
		if err := t.Bag(ctx, buf[:(hi-lo)*dim], q.ids[first:end], offs, &opts); err != nil {
			return storeErr(err, func(k int) string { return q.param(int(first) + k) })
		}
		if err := emit(buf[:(hi-lo)*dim], lo); err != nil {
			return err
		}
	}
	return nil
}

// normalizeRows scales each row of vals to unit L2 norm, as TEI's
// normalize (and torch.nn.functional.normalize, eps 1e-12) does: the norm is
// summed in float64 and every value divided by max(norm, 1e-12) in float32.
func normalizeRows(vals []float32, dim int) {
	for r := 0; r < len(vals); r += dim {
		row := vals[r : r+dim]
		var ss float64
		for _, v := range row {
			// The product of two float32 values is exact in float64, so
			// fusing would change nothing; the conversion keeps the build
			// the same at every GOAMD64 level, which CI checks.
			ss += float64(float64(v) * float64(v))
		}
		n := float32(max(math.Sqrt(ss), 1e-12))
		for i := range row {
			row[i] /= n
		}
	}
}

// chunkFor returns how many rows of dim values a response computes at a
// time from t: chunkValues, or what a Table whose rows come over the
// network asks for (fewer, larger requests).
func chunkFor(t Table, dim int) int {
	if c, ok := t.(interface{ ChunkValues() int }); ok {
		return max(1, c.ChunkValues()/dim)
	}
	return chunkRows(dim)
}
