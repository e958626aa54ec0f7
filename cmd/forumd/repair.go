package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/forumhq/forum/server/store/kv"
)

// repairConfig is the resolved configuration of `forumd admin repair`.
type repairConfig struct {
	commonConfig
}

// parseRepairArgs resolves the configuration of `forumd admin repair` from
// args (the arguments after "repair"), the environment and the defaults.
func parseRepairArgs(args []string, getenv func(string) string, output io.Writer) (repairConfig, error) {
	fs := flag.NewFlagSet("forumd admin repair", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: forumd admin repair [--data DIR]\n\n"+
			"Salvages a damaged or unreadable write-ahead log (forum.db-wal.0 and .1), which\n"+
			"forumd refuses to start on. Each damaged file is first saved aside as\n"+
			"forum.db-wal.N.broken, then cut where its valid records end: the next start\n"+
			"recovers the writes logged before the damage, and those after it are dropped\n"+
			"(they stay in the saved copy). forumd must be stopped. A sound log is left as it\n"+
			"is; a log of another database or of a newer forumd is refused, not repaired.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	common := commonFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return repairConfig{}, err
	}
	if fs.NArg() > 0 {
		return repairConfig{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c, err := common()
	return repairConfig{commonConfig: c}, err
}

// adminRepair runs `forumd admin repair`.
func adminRepair(cfg repairConfig, stdout io.Writer) error {
	done, err := kv.RepairBolt(filepath.Join(cfg.DataDir, "forum.db"), kv.BoltOptions{})
	for _, r := range done {
		fmt.Fprintf(stdout, "%s: %s; saved as %s, cut to %d bytes\n", r.Path, r.Reason, r.Saved, r.Offset)
	}
	if err != nil {
		return err
	}
	if len(done) == 0 {
		fmt.Fprintln(stdout, "the log is sound: nothing to repair")
		return nil
	}
	fmt.Fprintln(stdout, "repaired: forumd will now start and recover the records before the damage")
	return nil
}

// openHint returns advice for an error of opening the database, naming
// what to do about a log that forumd refuses, or "" for other errors.
func openHint(err error, dataDir string) string {
	switch {
	case errors.Is(err, kv.ErrLogDamaged), errors.Is(err, kv.ErrLogUnreadable):
		return fmt.Sprintf("forumd will not start on a damaged log, which would lose acknowledged writes in silence. "+
			"To keep the writes logged before the damage and drop those after it, stop here, copy %s, and run: forumd admin repair --data %s", dataDir, dataDir)
	case errors.Is(err, kv.ErrLogForeign):
		return fmt.Sprintf("if forum.db was replaced on purpose (a restore), move forum.db-wal.0 and forum.db-wal.1 out of %s first", dataDir)
	case errors.Is(err, kv.ErrLogVersion):
		return "the log was written by a newer forumd: run that version"
	}
	return ""
}
