// Command bridge runs qqmusic-discord-bridge: it relays the private messages
// of one QQ Music account to Discord channels and members' replies back.
//
// Usage:
//
//	bridge [run] [--config FILE]      run the bridge
//	bridge check-config [--config FILE]
//	bridge version
//
// The config file defaults to $BRIDGE_CONFIG, then config.toml. Exit codes:
// 0 ok, 1 runtime failure, 2 usage or configuration error.
//
// This package only wires the other packages together.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
