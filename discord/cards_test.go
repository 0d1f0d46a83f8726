package discord

import (
	"strings"
	"testing"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
)

// TestCardsRender posts every kind of card the facts describe (a message
// carrying title, content, pic and url: songs, playlists, albums,
// profiles) and the undocumented shapes, and checks what a member sees.
func TestCardsRender(t *testing.T) {
	type want struct {
		title, url, cover, footer string
		desc                      []string // substrings
		fields                    map[string]string
	}
	card := func(typ int, title, content, pic, u string, extra ...bridge.Field) bridge.Message {
		fs := []bridge.Field{{Name: "msg_type", Value: "x"}, {Name: "title", Value: title}, {Name: "url", Value: u}}
		return bridge.Message{Kind: bridge.KindCard, Type: typ, Card: &bridge.Card{Title: title, Description: content, CoverURL: pic, URL: u}, Fields: append(fs, extra...)}
	}
	tests := []struct {
		name string
		m    bridge.Message
		want want
	}{
		{"song", card(4, "晴天", "周杰伦 · 叶惠美", "https://y.gtimg.cn/a.jpg", "https://y.qq.com/n/ryqq/songDetail/0039MnYb0qxYhV", bridge.Field{Name: "biz_id", Value: "97773"}, bridge.Field{Name: "biz_type", Value: "1"}),
			want{title: "晴天", url: "https://y.qq.com/n/ryqq/songDetail/0039MnYb0qxYhV", cover: "https://y.gtimg.cn/a.jpg", footer: "msg_type 4",
				desc: []string{"周杰伦 · 叶惠美"}, fields: map[string]string{"biz_id": "97773", "biz_type": "1"}}},
		{"playlist", card(7, "深夜歌单", "42 首 · by Alice", "https://y.gtimg.cn/p.jpg", "https://y.qq.com/n/ryqq/playlist/123"),
			want{title: "深夜歌单", url: "https://y.qq.com/n/ryqq/playlist/123", cover: "https://y.gtimg.cn/p.jpg", footer: "msg_type 7", desc: []string{"42 首"}}},
		{"album", card(8, "范特西", "周杰伦", "https://y.gtimg.cn/al.jpg", "https://y.qq.com/n/ryqq/albumDetail/000I5jJB3blWeN"),
			want{title: "范特西", url: "https://y.qq.com/n/ryqq/albumDetail/000I5jJB3blWeN", cover: "https://y.gtimg.cn/al.jpg", footer: "msg_type 8"}},
		{"profile", card(9, "Alice 的主页", "", "https://thirdqq.qlogo.cn/g?b=sdk&k=1", "https://y.qq.com/n/ryqq/profile/like/song?uin=oKvz"),
			want{title: "Alice 的主页", url: "https://y.qq.com/n/ryqq/profile/like/song?uin=oKvz", cover: "https://thirdqq.qlogo.cn/g?b=sdk&k=1", footer: "msg_type 9"}},
		{"relative link goes to y.qq.com", card(11, "", "", "", "/n/ryqq/songDetail/1"),
			want{title: "🎵 Card", url: "https://y.qq.com/n/ryqq/songDetail/1", footer: "msg_type 11"}},
		{"scheme-less link", card(11, "T", "", "", "y.qq.com/n/ryqq/playlist/9"),
			want{title: "T", url: "https://y.qq.com/n/ryqq/playlist/9", footer: "msg_type 11"}},
		{"app link shown as text", card(12, "T", "d", "", "qqmusic://qq.com/ui/song?id=1"),
			want{title: "T", footer: "msg_type 12", desc: []string{"d", "qqmusic://qq.com/ui/song?id=1"}}},
		{"unknown type with only a pic", bridge.Message{Kind: bridge.KindUnknown, Type: 42, Fields: []bridge.Field{{Name: "msg_type", Value: "42"}, {Name: "pic", Value: "https://y.gtimg.cn/x.png"}}},
			want{title: "Unsupported QQ message (type 42)", cover: "https://y.gtimg.cn/x.png", fields: map[string]string{"msg_type": "42", "pic": "https://y.gtimg.cn/x.png"}}},
		{"unknown type with a url and a title", bridge.Message{Kind: bridge.KindUnknown, Type: 43, Fields: []bridge.Field{{Name: "title", Value: "活动"}, {Name: "url", Value: "https://y.qq.com/m/act"}}},
			want{title: "Unsupported QQ message (type 43)", url: "https://y.qq.com/m/act", fields: map[string]string{"title": "活动", "url": "https://y.qq.com/m/act"}}},
	}
	srv := newServer(t)
	a, _ := start(t, srv, nil)
	s := session("s1", "1", "Alice")
	ref, err := a.EnsureChannel(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m
			m.ID, m.Sender = "c"+string(rune('a'+i)), s.Peer
			ids, err := a.Post(t.Context(), ref, mustRender(t, a, m))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := srv.Message(ref.ChannelID, ids[0])
			if len(got.Embeds) != 1 {
				t.Fatalf("%d embeds, want 1", len(got.Embeds))
			}
			e := got.Embeds[0]
			if e.Title != tt.want.title || e.URL != tt.want.url {
				t.Errorf("title %q url %q; want %q %q", e.Title, e.URL, tt.want.title, tt.want.url)
			}
			cover := ""
			if e.Thumbnail != nil {
				cover = e.Thumbnail.URL
			}
			if cover != tt.want.cover {
				t.Errorf("cover %q, want %q", cover, tt.want.cover)
			}
			if tt.want.footer != "" && (e.Footer == nil || !strings.Contains(e.Footer.Text, tt.want.footer)) {
				t.Errorf("footer %+v, want it to name %q", e.Footer, tt.want.footer)
			}
			for _, d := range tt.want.desc {
				if !strings.Contains(e.Description, d) {
					t.Errorf("description %q lacks %q", e.Description, d)
				}
			}
			gotFields := map[string]string{}
			for _, f := range e.Fields {
				gotFields[f.Name] = f.Value
			}
			for k, v := range tt.want.fields {
				if gotFields[k] != v {
					t.Errorf("field %s = %q, want %q (fields %v)", k, gotFields[k], v, gotFields)
				}
			}
			if m.Kind == bridge.KindCard && (gotFields["title"] != "" || gotFields["url"] != "") {
				t.Errorf("a card repeats its title or link as fields: %v", gotFields)
			}
		})
	}
}
