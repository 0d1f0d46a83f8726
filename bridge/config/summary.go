package config

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// MaskSecret says whether a secret is set without showing any of it.
func MaskSecret(s string) string {
	if s == "" {
		return "(empty)"
	}
	return fmt.Sprintf("set (%d characters, masked)", len(s))
}

// WriteSummary writes a human-readable summary of the configuration with
// secrets masked.
func (c *Config) WriteSummary(w io.Writer) error {
	var b strings.Builder
	tokenSrc := "from the file"
	if c.TokenFromEnv {
		tokenSrc = "from " + TokenEnv
	}
	apiURL := c.Discord.APIURL
	if apiURL == "" {
		apiURL = "(Discord's)"
	}
	role := c.Discord.AdminRoleID.String()
	if role == "" {
		role = "(members with Manage Server)"
	}
	listen := c.HTTP.Listen
	if listen == "" {
		listen = "(disabled)"
	}
	fmt.Fprintf(&b, "config %s is valid\n", c.Path)
	fmt.Fprintf(&b, "  discord.token              %s %s\n", MaskSecret(c.Discord.Token), tokenSrc)
	fmt.Fprintf(&b, "  discord.guild_id           %s\n", c.Discord.GuildID)
	fmt.Fprintf(&b, "  discord.admin_channel_id   %s\n", c.Discord.AdminChannelID)
	fmt.Fprintf(&b, "  discord.category_name      %q\n", c.Discord.CategoryName)
	fmt.Fprintf(&b, "  discord.admin_role_id      %s\n", role)
	if v := c.Discord.ViewerRoleID.String(); v != "" {
		fmt.Fprintf(&b, "  discord.viewer_role_id     %s\n", v)
	}
	fmt.Fprintf(&b, "  discord.mode               %s\n", c.Discord.Mode)
	fmt.Fprintf(&b, "  discord.api_url            %s\n", apiURL)
	fmt.Fprintf(&b, "  qq.credential_file         %s\n", c.QQ.CredentialFile)
	fmt.Fprintf(&b, "  qq.device_file             %s\n", c.QQ.DeviceFile)
	fmt.Fprintf(&b, "  qq.login_method            %s\n", c.QQ.LoginMethod)
	if len(c.QQ.Endpoints) == 0 {
		fmt.Fprintf(&b, "  qq.endpoints               (none: QQ Music's own hosts)\n")
	} else {
		hosts := make([]string, 0, len(c.QQ.Endpoints))
		for h := range c.QQ.Endpoints {
			hosts = append(hosts, h)
		}
		sort.Strings(hosts)
		for _, h := range hosts {
			fmt.Fprintf(&b, "  qq.endpoints.%-13s %s\n", h, c.QQ.Endpoints[h])
		}
	}
	fmt.Fprintf(&b, "  bridge.database            %s\n", c.Bridge.Database)
	fmt.Fprintf(&b, "  bridge.poll_interval       %s\n", c.Bridge.PollInterval)
	fmt.Fprintf(&b, "  bridge.idle_poll_interval  %s\n", c.Bridge.IdlePollInterval)
	fmt.Fprintf(&b, "  bridge.backfill            %d\n", c.Bridge.Backfill)
	fmt.Fprintf(&b, "  bridge.first_start_days    %d\n", c.Bridge.FirstStartDays)
	fmt.Fprintf(&b, "  http.listen                %s\n", listen)
	fmt.Fprintf(&b, "  log.level                  %s\n", c.Log.Level)
	fmt.Fprintf(&b, "  log.format                 %s\n", c.Log.Format)
	_, err := io.WriteString(w, b.String())
	return err
}
