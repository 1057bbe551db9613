# Classification: export of pii (own or inherited along lineage) is for stewards only.
package artifact_plane.authz.classification

subject(roles) := {"id": "alice", "tenant": "acme", "roles": roles, "realm": null}

request(roles, action, tags, inherited) := {
	"subject": subject(roles),
	"action": action,
	"resource": {"tenant_id": "acme", "realm": "content", "tags": tags, "inherited_tags": inherited},
}

objections(roles, action, tags, inherited) := assess(request(roles, action, tags, inherited), {}).objections

test_untagged_data_may_be_exported if {
	objections(["reader"], "export", ["q3"], []) == set()
	assess(request(["reader"], "export", [], []), {}).allow
}

test_own_pii_is_not_exported if {
	objections(["writer"], "export", ["pii", "q3"], []) == {"classification: the artifact is pii: only stewards may export it"}
}

test_pii_inherited_along_lineage_is_not_exported if {
	objections(["reader"], "export", [], ["pii"]) == {
		"classification: the artifact is derived from pii data (inherited along lineage): only stewards may export it",
	}
}

test_every_blocked_tag_is_named if {
	objections(["reader"], "export", ["phi", "pii"], []) == {
		"classification: the artifact is phi, pii: only stewards may export it",
	}
}

test_stewards_may_export if {
	objections(["steward"], "export", ["pii"], ["pii"]) == set()
}

test_other_actions_are_not_classification_decisions if {
	objections(["reader"], "read", ["pii"], ["pii"]) == set()
	objections(["writer"], "create", ["pii"], []) == set()
}

test_tags_that_do_not_block_export_pass if {
	objections(["reader"], "export", ["confidential"], ["internal"]) == set()
}
