package qq

// Test-only access to the MQTT-over-websocket plumbing for package qq_test
// (which may import qqtest without an import cycle).

type MQTTConfigForTest = mqttConfig
type MQTTMessageForTest = mqttMessage

var (
	OpenMQTTForTest      = openMQTT
	RedirectPathForTest  = redirectPath
	WSURLFromHTTPForTest = wsURLFromHTTP
)

// Messages exposes a session's message channel and end signal.
func (s *mqttSession) Messages() <-chan mqttMessage { return s.msgs }
func (s *mqttSession) Lost() <-chan struct{}        { return s.lost }
