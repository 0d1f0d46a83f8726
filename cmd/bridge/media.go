package main

import (
	"net/url"
	"sort"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/config"
	"github.com/qmdbridge/qqmusic-discord-bridge/bridge/media"
	"github.com/qmdbridge/qqmusic-discord-bridge/discord"
)

// newMediaFetcher wires the downloader of QQ pictures and videos: bounded
// by Discord's upload limit, and trusting only the hosts the operator
// configured in qq.endpoints (a private QQ server, a test double); every
// other URL a peer sends must reach a public address.
func newMediaFetcher(cfg *config.Config) discord.MediaFetcher {
	if !cfg.Discord.ReuploadMedia {
		return nil // discord.reupload_media = false: links only (an untyped nil, so the adapter sees none)
	}
	return media.New(media.Options{
		MaxBytes:     discord.DefaultUploadLimit,
		TrustedHosts: trustedHosts(cfg.QQ.Endpoints),
	})
}

// trustedHosts are the host names (no port) of the configured endpoints.
func trustedHosts(endpoints map[string]string) []string {
	var hosts []string
	for _, raw := range endpoints {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
			hosts = append(hosts, u.Hostname())
		}
	}
	sort.Strings(hosts)
	return hosts
}
