package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// config is what login stores: the server and a token for it.
type config struct {
	// Server is the server's gRPC address.
	Server string `json:"server,omitempty"`
	// Token is the bearer token for Server; it is sent to no other server.
	Token string `json:"token,omitempty"`
	// Insecure records that login used plaintext for a server that is not
	// on loopback.
	Insecure bool `json:"insecure,omitempty"`
}

// configPath returns the path of the configuration file:
// forumctl/config.json in the user's configuration directory.
func configPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory: %w", err)
	}
	return filepath.Join(dir, "forumctl", "config.json"), nil
}

// loadConfig reads the configuration file; a missing one is empty.
func loadConfig(path string) (config, error) {
	var c config
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read the configuration: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("the configuration file %s is not valid JSON (%v): fix or delete it", path, err)
	}
	return c, nil
}

// saveConfig writes the configuration file with mode 0600 (its directory
// 0700), replacing the old one atomically so that a crash never leaves half
// a file, and never a moment where the token is readable by others.
func saveConfig(path string, c config) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save the configuration: %w", err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return fmt.Errorf("save the configuration: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, this fails harmlessly
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save the configuration: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save the configuration: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save the configuration: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save the configuration: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save the configuration: %w", err)
	}
	return nil
}
