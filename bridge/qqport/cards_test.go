package qqport

import (
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// TestCardsKeepWhatTheyCarry: a card keeps its title, content, pic and url
// as the card, and every other field it carried (biz_id, biz_type, tips)
// beside it, so that Discord shows all of it.
func TestCardsKeepWhatTheyCarry(t *testing.T) {
	m := qq.Message{ID: "m1", MsgType: 4, Tips: "tip", MetaData: &qq.MetaData{
		Title: "晴天", Content: "周杰伦", Pic: "https://y.gtimg.cn/a.jpg", URL: "https://y.qq.com/n/ryqq/songDetail/1", BizID: "97773", BizType: 1,
	}}
	bm := convMessage("s1", m, "")
	if bm.Kind != bridge.KindCard || bm.Card == nil || bm.Card.Title != "晴天" || bm.Card.Description != "周杰伦" || bm.Card.CoverURL == "" || bm.Card.URL == "" {
		t.Fatalf("card = %v %+v", bm.Kind, bm.Card)
	}
	got := map[string]string{}
	for _, f := range bm.Fields {
		got[f.Name] = f.Value
	}
	for k, v := range map[string]string{"msg_type": "4", "biz_id": "97773", "biz_type": "1", "tips": "tip"} {
		if got[k] != v {
			t.Errorf("field %s = %q, want %q", k, got[k], v)
		}
	}
}
