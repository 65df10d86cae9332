// Package cref exposes the C library's math routines (glibc's libm on Linux)
// to Go tests as reference oracles.
//
// It exists because Go does not allow cgo in _test.go files. Only tests import
// it, from test files built only with cgo (//go:build cgo), so that the
// suite also builds and passes without a C compiler; the library and the
// commands never call C. .ci/run makes sure gcc is installed and runs the
// suite both ways.
package cref

/*
#cgo LDFLAGS: -lm
#define _GNU_SOURCE
#include <math.h>

static void logf_range(const float *in, float *out, long n) {
	for (long i = 0; i < n; i++) out[i] = logf(in[i]);
}
static void sinf_range(const float *in, float *out, long n) {
	for (long i = 0; i < n; i++) out[i] = sinf(in[i]);
}
static void cosf_range(const float *in, float *out, long n) {
	for (long i = 0; i < n; i++) out[i] = cosf(in[i]);
}
static void fmaf_range(const float *x, const float *y, const float *z, float *out, long n) {
	for (long i = 0; i < n; i++) out[i] = fmaf(x[i], y[i], z[i]);
}
static void sincos_one(double x, double *s, double *c) {
	sincos(x, s, c);
}
static void sincosf_range(const float *in, float *sin_out, float *cos_out, long n) {
	for (long i = 0; i < n; i++) sincosf(in[i], &sin_out[i], &cos_out[i]);
}
*/
import "C"

import "unsafe"

// Logf returns the C library's logf(x).
func Logf(x float32) float32 { return float32(C.logf(C.float(x))) }

// Sinf returns the C library's sinf(x).
func Sinf(x float32) float32 { return float32(C.sinf(C.float(x))) }

// Cosf returns the C library's cosf(x).
func Cosf(x float32) float32 { return float32(C.cosf(C.float(x))) }

// Sincosf returns the C library's sincosf(x): the sine and cosine of x.
func Sincosf(x float32) (sin, cos float32) {
	var s, c C.float
	C.sincosf(C.float(x), &s, &c)
	return float32(s), float32(c)
}

// Fmaf returns the C library's fmaf(x, y, z): x*y+z rounded once to float32.
func Fmaf(x, y, z float32) float32 { return float32(C.fmaf(C.float(x), C.float(y), C.float(z))) }

// FmafSlice sets out[i] = fmaf(x[i], y[i], z[i]) in one cgo call.
func FmafSlice(x, y, z, out []float32) {
	if len(y) < len(x) || len(z) < len(x) {
		panic("cref: operand shorter than x")
	}
	if n := checkRange(x, out); n > 0 {
		C.fmaf_range(cfloats(x), cfloats(y), cfloats(z), cfloats(out), n)
	}
}

// Log returns the C library's log(x).
func Log(x float64) float64 { return float64(C.log(C.double(x))) }

// Sincos returns the C library's sincos(x): sin(x) and cos(x) from one call,
// as compilers emit when a program computes both.
func Sincos(x float64) (sin, cos float64) {
	var s, c C.double
	C.sincos_one(C.double(x), &s, &c)
	return float64(s), float64(c)
}

// Log1p returns the C library's log1p(x).
func Log1p(x float64) float64 { return float64(C.log1p(C.double(x))) }

// Sin returns the C library's sin(x).
func Sin(x float64) float64 { return float64(C.sin(C.double(x))) }

// Cos returns the C library's cos(x).
func Cos(x float64) float64 { return float64(C.cos(C.double(x))) }

// LogfSlice sets out[i] = logf(in[i]) in one cgo call, for exhaustive
// comparisons where a call per value would dominate the run time.
func LogfSlice(in, out []float32) {
	if n := checkRange(in, out); n > 0 {
		C.logf_range(cfloats(in), cfloats(out), n)
	}
}

// SinfSlice sets out[i] = sinf(in[i]) in one cgo call.
func SinfSlice(in, out []float32) {
	if n := checkRange(in, out); n > 0 {
		C.sinf_range(cfloats(in), cfloats(out), n)
	}
}

// CosfSlice sets out[i] = cosf(in[i]) in one cgo call.
func CosfSlice(in, out []float32) {
	if n := checkRange(in, out); n > 0 {
		C.cosf_range(cfloats(in), cfloats(out), n)
	}
}

// SincosfSlice sets sinOut[i], cosOut[i] = sincosf(in[i]) in one cgo call.
func SincosfSlice(in, sinOut, cosOut []float32) {
	if n := checkRange(in, sinOut); n > 0 {
		checkRange(in, cosOut)
		C.sincosf_range(cfloats(in), cfloats(sinOut), cfloats(cosOut), n)
	}
}

func checkRange(in, out []float32) C.long {
	if len(out) < len(in) {
		panic("cref: output shorter than input")
	}
	return C.long(len(in))
}

func cfloats(p []float32) *C.float { return (*C.float)(unsafe.Pointer(&p[0])) }
