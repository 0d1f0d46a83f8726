// Package qq is a client library for the QQ Music private-message (私信)
// API as the Android app speaks it: the musicu gateway and its signed
// variant, the virtual device and QIMEI, the credential and its refresh,
// and every PrivateMessageApi call.
//
// It knows nothing of Discord or of the bridge; the bridge adapts it to its
// own model. Every host it talks to can be pointed elsewhere (see
// Endpoints), which is how tests run it against package qqtest.
//
// # Transport
//
// New builds a Client on a caller-supplied *http.Client. Call and CallBatch
// post {"comm": ..., "req_0": ..., ...} to u.y.qq.com/cgi-bin/musicu.fcg
// (or, with Request.Signed, to musics.fcg with the zzc Sign of the exact
// body). Every request goes out byte for byte as the reference library
// sends it: the Android comm (which carries the credential in qq and
// authst) with its keys in the reference's order, each req_N as module,
// method, param, the parameters in the documented order (Object), compact
// JSON without HTML escaping, the Android User-Agent, and no cookies;
// booleans in parameters are sent as 0/1. A call answered 2000 (signature
// required) is sent once more through musics.fcg, and its method is signed
// from then on. The plain-HTTP login pages get the same User-Agent and,
// as the reference sends them, the credential cookies. Requests wait on a
// token bucket (10 requests/s, burst 50 by default).
//
// Before the first call, and again once they are 24 h old, the client
// acquires a QIMEI from api.tencentmusic.com and a session
// (music.getSession.session GetSession), and keeps both in the device file.
// Neither failure stops a call: it is logged and retried after a back-off.
//
// # Errors
//
// A call that needs a login and has none fails with ErrCredentialRequired
// before any request. Server refusals are typed: errors.Is(err,
// ErrCredentialExpired) for codes 1000/104400/104401, ErrRateLimited
// (*RateLimitError, with the feedback URL) for 2001, ErrSignatureRequired
// for 2000; other item codes are *APIError; a refused batch is
// *GatewayError; then *HTTPStatusError, *NetworkError and
// *MalformedResponseError, whose excerpt never holds a credential.
//
// # Credential
//
// Credential keeps the reference library's JSON names, so its exported
// files load as is (LoadCredential, SaveCredential: atomic, mode 0600).
// CheckCredential asks the server, RefreshCredential renews the musickey,
// Logout ends the login on the server.
//
// # Private messages
//
// GetSessionList, GetMessages, SendMessage, DeleteSession, DeleteMessage,
// ClearSession, SetConfig, GetConfig, GetMusicianCard, ReportCardAction,
// GetChatEntries, GetMediaDetails, MarkAllRead, GetSafetyHint and
// GetFriendFloatingIcon map one to one onto the server's methods. Replies
// decode tolerantly (FlexInt, FlexString, FlexBool: numbers as strings and
// the reverse, nulls as zero values). Sessions and Messages iterate over
// every page; SortMessages orders messages, since the page order is not
// documented.
package qq
