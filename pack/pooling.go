package pack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/embstore/embstore/internal/safetensors"
)

// readPooling returns the pooling a checkpoint's files say its model uses,
// or nil: sentence-transformers' modules.json (beside the weights, or in
// the directory above when the weights are one of its modules) with its
// Pooling module's config.json and a Normalize module; else model2vec's
// config.json (model_type "model2vec": mean, normalised if its "normalize"
// says so). What cannot be read or recorded is returned as warnings: the
// table is then imported without pooling metadata (mean, not normalised).
func readPooling(ck *safetensors.Checkpoint) (*Pooling, []string) {
	dir := filepath.Dir(ck.Path)
	stDir, modules := dir, filepath.Join(dir, "modules.json")
	if _, err := os.Stat(modules); err != nil {
		parent := filepath.Dir(dir)
		if _, err := os.Stat(filepath.Join(parent, "modules.json")); err == nil {
			stDir, modules = parent, filepath.Join(parent, "modules.json")
		} else {
			modules = ""
		}
	}
	if modules != "" {
		p, err := sentenceTransformersPooling(stDir, modules)
		if err != nil {
			return nil, []string{fmt.Sprintf("pooling not recorded: %v", err)}
		}
		if p != nil {
			return p, nil
		}
	}
	if ck.Config != nil && ck.Config.ModelType == "model2vec" {
		var cfg struct {
			Normalize *bool `json:"normalize"`
		}
		if err := json.Unmarshal(ck.Config.Raw, &cfg); err != nil {
			return nil, []string{fmt.Sprintf("pooling not recorded: config.json: %v", err)}
		}
		return &Pooling{Mode: "mean", Normalize: cfg.Normalize != nil && *cfg.Normalize}, nil
	}
	return nil, nil
}

// sentenceTransformersPooling reads modules.json in dir and the config of
// its Pooling module. It returns nil, nil when no module pools.
func sentenceTransformersPooling(dir, modulesPath string) (*Pooling, error) {
	b, err := readCapped(modulesPath, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("modules.json: %v", err)
	}
	var modules []struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &modules); err != nil {
		return nil, fmt.Errorf("modules.json: %v", err)
	}
	var poolPath string
	normalize, found := false, false
	for _, m := range modules {
		switch {
		case strings.HasSuffix(m.Type, ".Pooling"):
			if found {
				return nil, fmt.Errorf("modules.json has more than one Pooling module")
			}
			found, poolPath = true, m.Path
		case strings.HasSuffix(m.Type, ".Normalize"):
			normalize = true
		}
	}
	if !found {
		return nil, nil
	}
	if !filepath.IsLocal(poolPath) {
		return nil, fmt.Errorf("modules.json: the Pooling module's path %q is not inside the model's directory", poolPath)
	}
	cfgPath := filepath.Join(dir, poolPath, "config.json")
	b, err = readCapped(cfgPath, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(poolPath, "config.json"), err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(poolPath, "config.json"), err)
	}
	// The modes a table can record, and sentence-transformers' keys for them.
	known := map[string]string{
		"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls",
		"pooling_mode_max_tokens": "max", "pooling_mode_lasttoken": "last",
	}
	var modes []string
	for k, v := range cfg {
		if on, _ := v.(bool); !on || !strings.HasPrefix(k, "pooling_mode_") {
			continue
		}
		m, ok := known[k]
		if !ok {
			return nil, fmt.Errorf("%s: %s is not a pooling a table records (mean, cls, max, last)", filepath.Join(poolPath, "config.json"), k)
		}
		modes = append(modes, m)
	}
	switch len(modes) {
	case 0:
		return nil, fmt.Errorf("%s sets no pooling mode", filepath.Join(poolPath, "config.json"))
	case 1:
		return &Pooling{Mode: modes[0], Normalize: normalize}, nil
	}
	return nil, fmt.Errorf("%s combines several pooling modes, which a table cannot record", filepath.Join(poolPath, "config.json"))
}
