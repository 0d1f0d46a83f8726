// Package loadtest is the benchmark harness behind docs/BENCHMARKS.md. It
// holds no product code: its tests run the real engine (bridge.Engine with
// bridge/store, bridge/qqport over qq.Client, and discord.Adapter) and the
// real binary (cmd/bridge) against the in-repo doubles qq/qqtest and
// discord/discordtest, and measure QQ requests per idle cycle, relay
// latencies, behaviour under QQ's risk-control budget, throughput into
// Discord under its global rate limit, the binary's memory, CPU and
// start-up time, and how well sessions are isolated from each other: the
// latency of 199 sessions while one session's Discord takes 5 s per post,
// and the delays a gateway reconnect (and its catch-up of 500 bridged
// channels) adds to deliveries elsewhere. Where it makes sense the same
// figures are taken for the naive strategy (list every session, then read
// every session, every cycle), implemented here as a small alternative
// polling loop.
//
// The full run takes several minutes and is off by default:
//
//	go test ./bridge/loadtest -run TestLoadFigures -load -v -timeout 30m
//
// (add -load.out=FILE to also write the table to FILE). Two figures can
// be taken alone: -run TestLoadIsolation (the isolation figures, about two
// minutes) and -run TestLoadThroughput (about one). A plain go test
// runs only TestLoadSmoke, the same scenarios at toy sizes, which proves
// the harness works in a few seconds.
package loadtest
