package qq

import (
	"context"
	"fmt"
)

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

// resendSigned sends the items of an unsigned batch that were answered
// 2000 (signature required) once more, through the signed musics.fcg, and
// remembers their methods so they go signed from the start next time. A
// 2000 is a refusal before the call did anything, so sending it again
// cannot do it twice. The signed answers replace the 2000s in res; a
// failure of the signed batch as a whole becomes those items' error.
func (c *Client) resendSigned(ctx context.Context, reqs []Request, res []Result) ([]Result, error) {
	var idx []int
	var again []Request
	for i, r := range res {
		if r.Code != CodeSignatureRequired {
			continue
		}
		c.rememberSigning(reqs[i].Module, reqs[i].Method)
		c.log.Info("qq: QQ Music wants this call signed; sending it through musics.fcg from now on", "module", reqs[i].Module, "method", reqs[i].Method)
		rq := reqs[i]
		rq.Signed = true
		idx, again = append(idx, i), append(again, rq)
	}
	if len(again) == 0 {
		return res, nil
	}
	signed, _, err := c.sendOnce(ctx, again)
	for j, i := range idx {
		if err != nil {
			res[i].Err = fmt.Errorf("qq: %s.%s needs signing, and the signed call failed: %w", reqs[i].Module, reqs[i].Method, err)
			continue
		}
		res[i] = signed[j]
	}
	return res, nil
}
