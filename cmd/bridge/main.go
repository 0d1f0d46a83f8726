// Command bridge runs qqmusic-discord-bridge: it relays the private messages
// of one QQ Music account to Discord channels and members' replies back.
//
// Usage:
//
//	bridge [run] [--config FILE]      run the bridge (the default command)
//	bridge login [--config FILE] [--method mobile|qq|wx|phone] [--plain]
//	                                  log the QQ Music account in from a terminal
//	bridge try [--config FILE] [--every 20s]
//	                                  run the bridge on the config's Discord with a
//	                                  simulated QQ Music account in the process
//	bridge check-config [--config FILE]
//	                                  validate the configuration, print a summary
//	bridge healthcheck [--config FILE] [--timeout 5s]
//	                                  ask the running bridge's /healthz (exit 0 or 1)
//	bridge version                    print the version, commit and Go version
//	bridge --version                  the same
//	bridge help                       print the usage
//
// --config may also come before the command (bridge --config FILE
// check-config). The config file defaults to $BRIDGE_CONFIG, then
// config.toml. Exit codes: 0 ok, 1 runtime failure, 2 usage or
// configuration error (healthcheck: 0 or 1 only).
//
// This package only wires the other packages together.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
