package server

import "github.com/embstore/embstore/tokenizer"

// The tokenizer package's Tokenizer is what Config.Encoder will return once
// tables carry their tokenizer (the vocabulary work): it must fit.
var _ TextEncoder = (*tokenizer.Tokenizer)(nil)
