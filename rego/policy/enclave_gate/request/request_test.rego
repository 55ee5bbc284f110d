package enclave_gate.request_test

import data.enclave_gate.request

# A well-formed chat request; tests override single fields with object.union.
chat := {
	"request_id": "r-1",
	"method": "POST",
	"path": "/v1/chat/completions",
	"parsed_path": ["v1", "chat", "completions"],
	"query": "",
	"parsed_query": {},
	"headers": {"content-type": "application/json"},
	"body": {"model": "m", "messages": [{"role": "user", "content": "hello"}]},
	"body_size": 64,
	"pii": [],
	"peer": {
		"address": "10.0.0.1",
		"port": 40000,
		"tls": {"protocol": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "alpn": "http/1.1", "servername": null},
	},
}

# chat_with(key, value) is chat with one top-level field replaced (object.union
# would merge nested objects, which hides a removed header).
chat_with(key, value) := object.union(object.remove(chat, [key]), {key: value})

get(path) := object.union(
	object.remove(chat, ["body", "headers"]),
	{"method": "GET", "path": path, "headers": {}, "body_size": 0},
)

# The proxy's findings for a body (input.pii); chat carries none.
with_pii(request, findings) := object.union(request, {"pii": findings})

email_in_root := [{"type": "email", "path": "", "start": 5, "end": 16}]

allowed := {"allow": true, "reasons": []}

test_chat_completions_allowed if {
	request.decision == allowed with input as chat
}

test_other_post_routes_allowed if {
	every path in ["/v1/completions", "/v1/embeddings", "/inference", "/v1/responses", "/v1/messages", "/api/chat", "/api/generate"] {
		request.decision == allowed with input as chat_with("path", path)
	}
}

test_model_routes_allowed if {
	every path in ["/v1/models", "/v1/models/gpt-3.5-turbo", "/v1/models/llama3:8b", "/v1/models/meta-llama/Llama-3-8B"] {
		request.decision == allowed with input as get(path)
	}
}

test_unknown_paths_denied if {
	every path in [
		"/raw_customer_data",
		"/",
		"",
		"/v1/chat/completions/",
		"//v1/chat/completions",
		"/V1/chat/completions",
		"/v1/models/",
		"/v1/models/..",
		"/v1/models/.hidden",
		"/v1/models/..%2F..%2Fraw_customer_data",
		"/v1/models/a/b/c",
		"/v1/models/a//b",
	] {
		request.decision == {"allow": false, "reasons": ["path_not_allowed"]} with input as get(path)
	}
}

test_missing_path_denied if {
	request.decision == {"allow": false, "reasons": ["path_not_allowed"]} with input as object.remove(chat, ["path"])
}

test_wrong_method_denied_with_405_and_allow_header if {
	request.decision == {
		"allow": false,
		"status": 405,
		"reasons": ["method_not_allowed"],
		"headers": {"allow": "POST"},
	} with input as get("/v1/chat/completions")
}

test_post_to_models_denied if {
	d := request.decision with input as chat_with("path", "/v1/models/m")
	d.reasons == ["method_not_allowed"]
	d.headers == {"allow": "GET"}
}

test_methods_are_case_sensitive if {
	d := request.decision with input as chat_with("method", "post")
	d.reasons == ["method_not_allowed"]
}

test_non_json_content_type_denied_with_415 if {
	every ct in ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"] {
		request.decision == {"allow": false, "status": 415, "reasons": ["content_type_not_json"]} with input as chat_with("headers", {"content-type": ct})
	}
}

test_missing_content_type_denied if {
	d := request.decision with input as chat_with("headers", {})
	d.reasons == ["content_type_not_json"]
}

test_json_content_type_with_parameters_allowed if {
	request.decision == allowed with input as chat_with("headers", {"content-type": "application/json; charset=utf-8"})
}

test_findings_become_sorted_reasons if {
	request.decision == {"allow": false, "reasons": [
		"pii_detected:email:/messages/0/content",
		"pii_detected:payment_card:/messages/1/content",
	]} with input as with_pii(chat, [
		{"type": "payment_card", "path": "/messages/1/content", "start": 0, "end": 19},
		{"type": "email", "path": "/messages/0/content", "start": 6, "end": 17},
	])
}

test_pii_in_whole_string_body if {
	d := request.decision with input as with_pii(chat_with("body", "mail a@b.example"), email_in_root)
	d == {"allow": false, "reasons": ["pii_detected:email:"]}
}

test_unparsed_body_denied if {
	d := request.decision with input as object.remove(chat, ["body", "pii"])
	d == {"allow": false, "reasons": ["body_not_inspected"]}
}

test_post_without_body_allowed if {
	request.decision == allowed with input as object.union(object.remove(chat, ["body", "pii"]), {"body_size": 0})
}

test_null_body_is_inspected if {
	request.decision == allowed with input as chat_with("body", null)
}

test_route_checked_before_body if {
	d := request.decision with input as with_pii(chat_with("path", "/raw_customer_data"), email_in_root)
	d.reasons == ["path_not_allowed"]
}

test_content_type_checked_before_body if {
	d := request.decision with input as with_pii(chat_with("headers", {"content-type": "text/plain"}), email_in_root)
	d.reasons == ["content_type_not_json"]
}

test_garbage_findings_denied if {
	# Not a list of findings: never clean, so denied with a reason.
	request.decision == {"allow": false, "reasons": ["body_not_scanned"]} with input as with_pii(chat, "weird")
}

test_body_without_findings_denied if {
	# A caller that passes a body but no scan of it gets no benefit of the doubt.
	request.decision == {"allow": false, "reasons": ["body_not_scanned"]} with input as object.remove(chat, ["pii"])
}

test_missing_method_denied if {
	d := request.decision with input as object.remove(chat, ["method"])
	d.reasons == ["method_not_allowed"]
}

test_missing_headers_denied if {
	d := request.decision with input as object.remove(chat, ["headers"])
	d.reasons == ["content_type_not_json"]
}

test_missing_body_size_without_body_denied if {
	d := request.decision with input as object.remove(chat, ["body", "body_size", "pii"])
	d.reasons == ["default_deny"]
}

test_precomputed_findings_deny if {
	d := request.decision with input as with_pii(chat, [{"type": "email", "path": "/messages/0/content", "start": 0, "end": 5}])
	d.allow == false
	d.reasons == ["pii_detected:email:/messages/0/content"]
}
