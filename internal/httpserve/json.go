package httpserve

import (
	"encoding/json"
	"net/http"
)

// WriteJSON answers with status and v as JSON: the content type and the
// status before the body (Go ignores a status written after it), the body
// ending with a newline as json.Encoder writes it.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
