# decide(request, fixture) is the entrypoint's logic with its inputs as
# arguments, so tests call it directly (see the header of decision.rego).
package artifact_plane.authz

fixture := {"insights": {"id": "insights", "permissions": {"read": [], "write": [{"to": "self", "paths": ["**"]}]}}}

request(subject, action, resource) := {"subject": subject, "action": action, "resource": resource, "context": {}}

person(tenant, roles) := {"id": "alice", "tenant": tenant, "roles": roles, "realm": null}

service := {"id": "svc", "tenant": "acme", "roles": ["writer"], "realm": "insights"}

doc := {"tenant_id": "acme", "realm": "insights", "artifact_type": "report", "uri": "artifact://insights/r/q3.json"}

test_allow_has_no_reasons if {
	decide(request(person("acme", ["reader"]), "read", doc), fixture) == {"allow": true, "reasons": []}
	decide(request(service, "create", doc), fixture) == {"allow": true, "reasons": []}
}

test_every_objection_is_reported_sorted if {
	decide(request(person("globex", ["reader"]), "delete", doc), fixture) == {
		"allow": false,
		"reasons": [
			"roles: subject alice with roles reader may not delete",
			"tenant_isolation: subject tenant globex may not delete tenant acme",
		],
	}
}

test_realm_objection_reaches_decision if {
	elsewhere := object.union(doc, {"uri": "artifact://outcomes/x", "realm": "outcomes"})
	decide(request(service, "create", elsewhere), fixture) == {
		"allow": false,
		"reasons": ["realm_write: realm insights may not write artifact://outcomes/x"],
	}
}

test_realm_subject_needs_manifests if {
	decide(request(service, "read", doc), {}) == {
		"allow": false,
		"reasons": ["realm_unknown: subject realm insights has no realm manifest (known: )"],
	}
}

test_invalid_values_are_denied_and_named if {
	numeric := object.union(person("acme", ["reader"]), {"tenant": 42})
	decide(request(numeric, "read", {"tenant_id": 42}), fixture) == {
		"allow": false,
		"reasons": ["tenant_isolation: subject tenant <invalid> may not read tenant <invalid>"],
	}
}

test_verdict_needs_every_concern_to_allow if {
	yes := {"allow": true, "objections": set()}
	verdict([yes, yes, yes]) == {"allow": true, "reasons": []}
	verdict([yes, {"allow": false, "objections": {"b: no"}}, {"allow": false, "objections": {"a: no"}}]) == {
		"allow": false,
		"reasons": ["a: no", "b: no"],
	}
}

test_verdict_denies_an_allow_that_objects if {
	verdict([{"allow": true, "objections": {"x: but"}}]) == {"allow": false, "reasons": ["x: but"]}
}

test_verdict_default_reason_when_a_concern_denies_silently if {
	verdict([{"allow": false, "objections": set()}]) == {
		"allow": false,
		"reasons": ["default_deny: no rule allowed this request"],
	}
}

test_batch_answers_each_request_in_order if {
	mixed := [
		request(service, "create", doc),
		request(person("globex", ["reader"]), "read", doc),
		request(person("acme", ["reader"]), "read", doc),
		request(service, "create", object.union(doc, {"uri": "artifact://outcomes/x", "realm": "outcomes"})),
	]
	answers := decide_all(mixed, fixture)
	answers == [decide(req, fixture) | some req in mixed]
	[answer.allow | some answer in answers] == [true, false, true, false]
	decide_all([], fixture) == []
}
