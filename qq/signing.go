package qq

// needsSigning reports whether module.method was answered 2000 (signature
// required) before, so it now always goes through the signed musics.fcg.
func (c *Client) needsSigning(module, method string) bool {
	c.signMu.Lock()
	defer c.signMu.Unlock()
	return c.mustSign[module+"/"+method]
}

// rememberSigning records that module.method needs the signed gateway.
func (c *Client) rememberSigning(module, method string) {
	c.signMu.Lock()
	defer c.signMu.Unlock()
	if c.mustSign == nil {
		c.mustSign = map[string]bool{}
	}
	c.mustSign[module+"/"+method] = true
}
