package torchinit

import (
	"math"

	"github.com/embstore/embstore/internal/glibcf32"
)

// normal16Default is normal_fill_16<float> (native/cpu/DistributionTemplates.h)
// as compiled for ATen's default (no AVX) CPU capability: plain float32
// arithmetic without fused multiply-adds, glibc's logf, cosf and sinf, and
// theta computed in double then rounded to float:
//
//	radius = sqrtf(-2 * logf(1 - u1))
//	theta  = (float)(2.0 * pi * (double)u2)
//	d[j]   = radius * cosf(theta) * std + mean
//	d[j+8] = radius * sinf(theta) * std + mean
func normal16Default(d *[16]float32, mean, std float32) {
	for j := range 8 {
		u1 := 1 - d[j]
		u2 := d[j+8]
		radius := float32(math.Sqrt(float64(float32(-2 * glibcf32.Logf(u1)))))
		theta := float32(twoPi64 * float64(u2))
		c := glibcf32.Cosf(theta)
		s := glibcf32.Sinf(theta)
		d[j] = float32(float32(radius*c)*std) + mean
		d[j+8] = float32(float32(radius*s)*std) + mean
	}
}
