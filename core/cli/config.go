package cli

import (
	"fmt"

	"github.com/BurntSushi/toml"
)

// LoadConfig reads a TOML config file into a map of top-level keys to
// decoded values (string, int64, float64, bool, []any, …). A missing,
// unreadable or invalid file gives
// "failed to load config file <path> - <err>".
func LoadConfig(path string) (map[string]any, error) {
	cfg := map[string]any{}
	if _, err := toml.DecodeFile(path, &cfg); err != nil {
		return nil, fmt.Errorf("failed to load config file %s - %v", path, err)
	}
	return cfg, nil
}
