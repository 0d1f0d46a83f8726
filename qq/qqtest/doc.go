// Package qqtest is a protocol-faithful test double of QQ Music's servers:
// test infrastructure, never a mode of the product.
//
// A Server is an HTTP server (started with net/http/httptest) that speaks the
// wire format the Android app speaks, as far as this project knows it (see
// shared/reference/qqmusic-protocol.md):
//
//   - POST /cgi-bin/musicu.fcg, the musicu gateway: a JSON body holding
//     "comm" and batched items "req_0".."req_N", each {module, method, param};
//     the reply holds a top-level "code" and one {code, data} per item.
//   - POST /cgi-bin/musics.fcg?_=<unix ms>&sign=<zzc sign of the body>, the
//     signed variant: a wrong or missing sign answers item code 2000.
//   - POST /tme/trpc/proxy, the QIMEI proxy of api.tencentmusic.com: the
//     header sign and the body's shape and sign are checked (nothing is
//     decrypted) and a plausible QIMEI pair is issued.
//
// Behind the gateway it implements music.getSession.session/GetSession,
// music.UserInfo.userInfoServer/GetLoginUserInfo, the credential refresh
// (music.login.LoginServer/Login with loginMode 2) and every private-message
// method, backed by in-memory users, sessions and messages. Every request
// must carry the logged-in Account in comm.qq and comm.authst (cookies on the gateway are a
// deviation, not a credential), or it is answered
// with code 1000 like the real server answers an expired credential.
//
// One server stands in for every QQ host: routing is by path only, and
// Endpoints maps each real host to the server's URL, in the shape of the
// bridge's qq.endpoints configuration. Tests drive it through its Go API:
// add users, sessions and inbound messages; read what was sent; count
// requests per method; inject faults (expired credential, risk control,
// 5xx, time-outs, malformed JSON, gateway codes, each optionally after the
// work was done), a rate limit and asynchronous sends (SetAsyncSend: a send
// is accepted but shows only when the test releases it); switch on Quirks
// the protocol allows (sort_time in whole seconds or not moved, messages
// without sequence, a session re-created with sequences from 1, pages
// repeating their edge; SetPageOrder for either page order); and read
// the Deviations, every place where a request differed from the facts
// (comm keys and values, key order, cookies on the gateway, User-Agent,
// parameter names and types).
//
// Further methods (for example the login flows) can be added in new files:
// Register puts a Method into the module/method registry, and HandleHTTP
// mounts any other path (ptqrshow, check_sig, ...).
//
// Choices the double makes where the protocol is not documented are named in
// the doc comments (for example message type numbers, id formats and the
// codes of its own refusals); code under test must not depend on them.
package qqtest
