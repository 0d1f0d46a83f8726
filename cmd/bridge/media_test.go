package main

import (
	"slices"
	"testing"
)

func TestTrustedHostsAreTheConfiguredEndpoints(t *testing.T) {
	tests := []struct {
		name      string
		endpoints map[string]string
		want      []string
	}{
		{"none", nil, nil},
		{"hosts without ports", map[string]string{
			"u.y.qq.com":  "http://127.0.0.1:8080",
			"mu.y.qq.com": "https://qq-double.internal:8443/base",
		}, []string{"127.0.0.1", "qq-double.internal"}},
		{"a bad URL is skipped", map[string]string{"u.y.qq.com": "::not a url"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := trustedHosts(tt.endpoints); !slices.Equal(got, tt.want) {
				t.Errorf("trustedHosts = %v, want %v", got, tt.want)
			}
		})
	}
}
