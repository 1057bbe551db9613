# Content rules are functions of the request and the manifests; the realms
# below are fixtures, not the real manifests.
package artifact_plane.authz.content

fixture := {
	"content": {"id": "content", "content": {
		"allowedTypes": ["dataset", "analysis_result"],
		"maxSizeBytes": 1000,
		"sensitiveTypes": ["dataset"],
	}},
	"open": {"id": "open"},
}

writer := {"id": "alice", "tenant": "acme", "roles": ["writer"], "realm": null}

request(action, resource) := {"subject": writer, "action": action, "resource": object.union({"tenant_id": "acme"}, resource)}

objections(action, resource) := assess(request(action, resource), fixture).objections

artifact(type, size) := {"realm": "content", "artifact_type": type, "size_bytes": size}

test_an_allowed_type_within_the_limit_passes if {
	assess(request("create", artifact("analysis_result", 1000)), fixture).allow
	objections("create", artifact("analysis_result", 1000)) == set()
}

test_a_type_the_realm_does_not_hold_is_refused if {
	objections("create", artifact("roadmap", 10)) == {
		"content_type: type roadmap is not allowed in realm content (allowed: analysis_result, dataset)",
	}
}

test_the_platforms_own_records_are_allowed_everywhere if {
	objections("create", artifact("invocation", 10)) == set()
	objections("create", artifact("execution", 10)) == set()
}

test_one_byte_over_the_limit_is_refused if {
	objections("create", artifact("analysis_result", 1001)) == {
		"content_size: the payload is over realm content's limit of 1000 bytes (content.maxSizeBytes)",
	}
}

test_an_unknown_size_is_left_to_the_plane if {
	# A stream's size is known only once stored; the plane asks again then.
	objections("create", {"realm": "content", "artifact_type": "analysis_result"}) == set()
}

test_a_sensitive_type_needs_a_retention_policy if {
	objections("create", artifact("dataset", 10)) == {
		"content_retention: type dataset is sensitive in realm content: give a retention_policy",
	}
	objections("create", object.union(artifact("dataset", 10), {"retention_policy": ""})) == {
		"content_retention: type dataset is sensitive in realm content: give a retention_policy",
	}
	objections("create", object.union(artifact("dataset", 10), {"retention_policy": "keep-7y"})) == set()
}

test_a_sensitive_types_retention_policy_cannot_be_cleared if {
	objections("retention", object.union(artifact("dataset", 10), {"new_retention_policy": null})) == {
		"content_retention: type dataset is sensitive in realm content: its retention_policy cannot be cleared",
	}
	objections("retention", object.union(artifact("dataset", 10), {"new_retention_policy": "keep-1y"})) == set()
	objections("retention", object.union(artifact("analysis_result", 10), {"new_retention_policy": null})) == set()
}

test_every_problem_is_reported_together if {
	count(objections("create", artifact("roadmap", 5000))) == 2
}

test_updates_are_held_to_the_rules_too if {
	count(objections("update", artifact("roadmap", 10))) == 1
}

test_reads_and_deletes_are_not_content_decisions if {
	objections("read", artifact("roadmap", 5000)) == set()
	objections("delete", artifact("dataset", 5000)) == set()
}

test_a_realm_without_content_rules_takes_anything if {
	objections("create", {"realm": "open", "artifact_type": "anything", "size_bytes": 999999999}) == set()
	objections("create", {"realm": "unknown", "artifact_type": "anything", "size_bytes": 1}) == set()
}
