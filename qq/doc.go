// Package qq is a client library for the QQ Music private-message (私信)
// API as the Android app speaks it: the musicu gateway and its signed
// variant, the virtual device and QIMEI, the credential and its refresh,
// and every PrivateMessageApi call.
//
// It knows nothing of Discord or of the bridge; the bridge adapts it to its
// own model. Every host it talks to can be pointed elsewhere (see
// Endpoints), which is how tests run it against package qqtest.
package qq
