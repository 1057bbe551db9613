# Rules are functions of the request and the manifests, so tests pass both as
# arguments. The realms below are fixtures, not the real manifests.
package artifact_plane.authz.realms

fixture := {
	"insights": {
		"id": "insights",
		"permissions": {
			"read": [{"from": "content", "paths": ["results/**"], "allowedTypes": ["analysis_result"]}],
			"write": [
				{"to": "self", "paths": ["reports/**", "*.json"]},
				{"to": "outcomes", "paths": ["inbox/*"]},
			],
		},
	},
	"content": {"id": "content", "permissions": {"read": [], "write": [{"to": "self", "paths": ["**"]}]}},
	"outcomes": {"id": "outcomes", "permissions": {"read": [{"from": "insights"}], "write": [{"to": "self"}]}},
}

request(realm, action, resource) := {
	"subject": {"id": "svc", "tenant": "acme", "roles": ["writer"], "realm": realm},
	"action": action,
	"resource": object.union({"tenant_id": "acme"}, resource),
}

permitted(realm, action, resource) if assess(request(realm, action, resource), fixture).allow

objected(realm, action, resource) := assess(request(realm, action, resource), fixture).objections

at(uri) := {"uri": uri, "artifact_type": "report"}

typed(realm, type) := {"realm": realm, "artifact_type": type}

test_write_own_realm_inside_globs if {
	permitted("insights", "create", at("artifact://insights/reports/q3/summary.json"))
	permitted("insights", "update", at("artifact://self/reports/q3.json"))
	permitted("insights", "create", at("artifact://insights/top.json"))
	objected("insights", "create", at("artifact://insights/top.json")) == set()
}

test_write_own_realm_outside_globs_denied if {
	not permitted("insights", "create", at("artifact://insights/drafts/x.json"))
	not permitted("insights", "create", at("artifact://insights/nested/top.json"))
	objected("insights", "create", at("artifact://insights/drafts/x.json")) == {
		"realm_write: realm insights may not write artifact://insights/drafts/x.json",
	}
}

test_write_other_realm_only_where_listed if {
	permitted("insights", "create", at("artifact://outcomes/inbox/note.json"))
	not permitted("insights", "create", at("artifact://outcomes/inbox/deep/note.json"))
	not permitted("insights", "create", at("artifact://outcomes/roadmaps/x"))
	objected("insights", "create", at("artifact://outcomes/roadmaps/x")) == {
		"realm_write: realm insights may not write artifact://outcomes/roadmaps/x",
	}
}

test_write_without_uri_checks_target_realm if {
	permitted("insights", "create", typed("insights", "report"))
	permitted("insights", "lineage.register", typed("outcomes", "report"))
	not permitted("insights", "delete", typed("content", "dataset"))
	objected("insights", "delete", typed("content", "dataset")) == {"realm_write: realm insights may not write into realm content"}
}

test_write_without_target_denied if {
	not permitted("insights", "create", {})
	objected("insights", "create", {}) == {"realm_write: realm insights may not create a resource that names no realm"}
}

test_uri_and_realm_must_agree if {
	permitted("insights", "create", object.union(at("artifact://insights/reports/x"), {"realm": "insights"}))
	not permitted("insights", "create", object.union(at("artifact://insights/reports/x"), {"realm": "content"}))
	objected("insights", "create", object.union(at("artifact://insights/reports/x"), {"realm": "content"})) == {
		"realm_uri: artifact://insights/reports/x is in realm insights but the resource says realm content",
	}
}

test_malformed_uri_denied if {
	not permitted("insights", "read", at("s3://bucket/x"))
	not permitted("insights", "read", at("artifact://insights"))
	not permitted("insights", "create", at("artifact:///x"))
	objected("insights", "read", at("s3://bucket/x")) == {"realm_uri: s3://bucket/x is not an artifact://realm/path URI"}
}

test_unknown_realm_denied if {
	not permitted("ghost", "read", typed("ghost", "report"))
	objected("ghost", "read", typed("ghost", "report")) == {
		"realm_unknown: subject realm ghost has no realm manifest (known: content, insights, outcomes)",
	}
}

test_subject_without_realm_uses_roles_only if {
	req := {
		"subject": {"id": "alice", "tenant": "acme", "roles": ["admin"], "realm": null},
		"action": "create",
		"resource": {"tenant_id": "acme", "uri": "artifact://content/anything"},
	}
	assess(req, fixture) == {"allow": true, "objections": set()}
	assess(req, {}).allow
}

test_read_own_realm_always if {
	permitted("content", "read", typed("content", "dataset"))
	permitted("content", "lineage.read", at("artifact://content/raw/x.csv"))
	permitted("content", "read", at("artifact://self/raw/x.csv"))
}

test_read_other_realm_by_type if {
	permitted("insights", "read", typed("content", "analysis_result"))
	not permitted("insights", "read", typed("content", "dataset"))
	objected("insights", "read", typed("content", "dataset")) == {
		"realm_read: realm insights may not read realm content (type dataset)",
	}
}

test_read_other_realm_by_path if {
	permitted("insights", "read", {"uri": "artifact://content/results/a/b.json", "artifact_type": "analysis_result"})
	not permitted("insights", "read", {"uri": "artifact://content/raw/b.json", "artifact_type": "analysis_result"})
	objected("insights", "read", {"uri": "artifact://content/raw/b.json", "artifact_type": "analysis_result"}) == {
		"realm_read: realm insights may not read artifact://content/raw/b.json (type analysis_result)",
	}
}

test_read_rule_without_types_or_paths_allows_all if {
	permitted("outcomes", "read", typed("insights", "quality_report"))
	permitted("outcomes", "lineage.read", at("artifact://insights/any/where"))
}

test_null_types_and_paths_mean_unrestricted if {
	realms := {"outcomes": {"permissions": {
		"read": [{"from": "insights", "paths": null, "allowedTypes": null}],
		"write": [{"to": "self", "paths": null}],
	}}}
	assess(request("outcomes", "read", at("artifact://insights/a/b")), realms).allow
	assess(request("outcomes", "create", at("artifact://outcomes/a/b")), realms).allow
}

test_read_unlisted_realm_denied if {
	not permitted("content", "read", typed("insights", "interpretation"))
	not permitted("content", "lineage.read", typed("outcomes", "roadmap"))
}

test_listing_is_a_query_checked_per_artifact if {
	permitted("content", "list", {})
	permitted("content", "list", typed("insights", null))
	not permitted("ghost", "list", {})
}

test_reading_what_names_no_realm_is_left_to_roles if {
	permitted("content", "lineage.read", {"execution_id": "run-1"})
}

test_unknown_action_denied if {
	objected("content", "frobnicate", {"realm": "content"}) == {
		"realm_action: realm content has no permission for action frobnicate",
	}
}

test_self_realm_uri_without_subject_realm_is_not_trusted if {
	# "self" only resolves for realm subjects; a person gets roles-only checks.
	req := {
		"subject": {"id": "alice", "tenant": "acme", "roles": ["writer"], "realm": null},
		"action": "create",
		"resource": {"tenant_id": "acme", "uri": "artifact://self/x"},
	}
	assess(req, fixture).allow
}
