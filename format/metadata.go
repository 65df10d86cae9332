package format

import (
	"fmt"

	"github.com/embstore/embstore/internal/strictjson"
)

// ValidateMetadata checks that md is a metadata document the format allows:
// at most MaxMetadataSize bytes of UTF-8 (no byte-order mark) holding exactly
// one JSON object, nested at most MaxMetadataDepth levels, with no duplicate
// key in any object and no \u escape that leaves a UTF-16 surrogate
// unpaired. Go's encoding/json keeps the last of duplicate keys and other
// parsers keep the first, and it turns a lone surrogate into U+FFFD, so that
// two different keys can become one: a document could mean different things
// to different readers, and is refused.
func ValidateMetadata(md []byte) error {
	if len(md) > MaxMetadataSize {
		return fmt.Errorf("%d bytes exceeds the limit of %d", len(md), MaxMetadataSize)
	}
	if err := strictjson.CheckObject(md, MaxMetadataDepth); err != nil {
		return err
	}
	return nil
}
