package session_test

import (
	"encoding/json"
	"fmt"

	"github.com/agentalias/agentalias/session"
)

func ExampleKeyFromName() {
	fmt.Println(session.KeyFromName("Billing question", "7f3a9c2e"))
	fmt.Println(session.KeyFromName("  Café -- Münster!  ", "x1"))
	fmt.Println(session.KeyFromName("", "7f3a9c2e"))
	fmt.Println(session.KeyFromName("A very long name that goes on and on past the limit", "7f3a9c2e"))
	// Output:
	// billing-question-7f3a9c2e
	// caf-m-nster-x1
	// session-7f3a9c2e
	// a-very-long-name-that-goes-on-and-on-past-7f3a9c2e
}

func ExampleSecrets() {
	s := session.Secrets{"slack_user_token": "xoxp-real-value"}
	b, _ := json.Marshal(s)
	fmt.Println(string(b))
	fmt.Println(s)
	// Output:
	// {"slack_user_token":"****"}
	// map[slack_user_token:****]
}
