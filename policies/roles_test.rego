# Rules are functions of the request, so tests pass requests as arguments.
package artifact_plane.authz.roles

import data.artifact_plane.authz.actions

request(roles, action) := {
	"subject": {"id": "bob", "tenant": "acme", "roles": roles, "realm": null},
	"action": action,
	"resource": {"tenant_id": "acme"},
}

may(roles) := {action | some action in actions.all; assess(request(roles, action)).allow}

test_reader_reads_lists_and_reads_lineage_only if {
	may(["reader"]) == {"read", "list", "lineage.read", "export"}
}

test_reader_write_denied_with_reason if {
	assess(request(["reader"], "delete")) == {
		"allow": false,
		"objections": {"roles: subject bob with roles reader may not delete"},
	}
}

test_writer_writes_and_reads_but_neither_deletes_nor_changes_retention if {
	may(["writer"]) == {"read", "list", "lineage.read", "export", "create", "update", "lineage.register"}
}

test_steward_is_a_writer_who_also_deletes_and_changes_retention if {
	may(["steward"]) == may(["writer"]) | {"delete", "retention"}
}

test_admin_is_a_writer_who_also_reads_the_decision_log if {
	may(["admin"]) == may(["writer"]) | {"audit.read"}
	may(["admin", "steward"]) == actions.all
}

test_only_stewards_delete_or_change_retention if {
	holders := {action: {role | some role; grants[role]; assess(request([role], action)).allow} |
		some action in {"delete", "retention"}
	}
	holders == {"delete": {"steward"}, "retention": {"steward"}}
}

test_writer_delete_and_retention_denied_with_reason if {
	assess(request(["writer"], "delete")) == {
		"allow": false,
		"objections": {"roles: subject bob with roles writer may not delete"},
	}
	assess(request(["admin", "reader", "writer"], "retention")) == {
		"allow": false,
		"objections": {"roles: subject bob with roles admin, reader, writer may not retention (change retention_policy or ttl)"},
	}
	assess(request(["writer", "steward"], "retention")) == {"allow": true, "objections": set()}
}

test_only_admins_read_the_decision_log_of_others if {
	assess(request(["admin"], "audit.read")).allow == true
	assess(request(["steward", "writer"], "audit.read")) == {
		"allow": false,
		"objections": {"roles: subject bob with roles steward, writer may not audit.read"},
	}
}

test_grants_name_known_actions_only if {
	unknown := {action |
		some granted in grants
		some action in granted
		not action in actions.all
	}
	count(unknown) == 0
}

test_unrecognised_roles_denied_with_reason if {
	count(may(["guest", "root"])) == 0
	count(may([])) == 0
	assess(request(["guest"], "read")) == {
		"allow": false,
		"objections": {"roles: subject bob has no recognised role (one of: admin, reader, steward, writer)"},
	}
}

test_missing_roles_denied if {
	req := {"subject": {"id": "bob", "tenant": "acme"}, "action": "read", "resource": {"tenant_id": "acme"}}
	assess(req).allow == false
}

test_one_recognised_role_is_enough if {
	assess(request(["guest", "writer"], "create")) == {"allow": true, "objections": set()}
}

test_denial_lists_recognised_roles_sorted if {
	assess(request(["writer", "guest", "reader"], "frobnicate")).allow == false
	assess(request(["reader", "guest"], "update")) == {
		"allow": false,
		"objections": {"roles: subject bob with roles reader may not update"},
	}
}

test_unknown_action_denied_even_for_admin if {
	assess(request(["admin"], "frobnicate")) == {
		"allow": false,
		"objections": {"roles: unknown action frobnicate (known: audit.read, create, delete, export, lineage.read, lineage.register, list, read, retention, update)"},
	}
}
