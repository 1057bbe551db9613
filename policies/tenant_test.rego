# Rules are functions of the request, so tests pass requests as arguments
# (see decision.rego for why not `with input as`).
package artifact_plane.authz.tenant

request(tenant, action, resource_tenant) := {
	"subject": {"id": "alice", "tenant": tenant, "roles": ["admin"], "realm": null},
	"action": action,
	"resource": {"tenant_id": resource_tenant},
}

test_same_tenant_allowed if {
	assess(request("acme", "read", "acme")) == {"allow": true, "objections": set()}
}

test_cross_tenant_denied_with_reason if {
	assess(request("acme", "read", "globex")) == {
		"allow": false,
		"objections": {"tenant_isolation: subject tenant acme may not read tenant globex"},
	}
}

test_cross_tenant_denied_for_every_action if {
	allowed := {action |
		some action in data.artifact_plane.authz.actions.all
		assess(request("acme", action, "globex")).allow
	}
	count(allowed) == 0
}

test_missing_tenant_id_denied if {
	req := {"subject": {"id": "alice", "tenant": "acme", "roles": ["admin"]}, "action": "list", "resource": {}}
	assess(req) == {"allow": false, "objections": {"tenant_isolation: subject tenant acme may not list tenant <none>"}}
}

test_non_string_tenants_denied if {
	assess(request(7, "read", 7)).allow == false
	assess(request(null, "read", null)) == {
		"allow": false,
		"objections": {"tenant_isolation: subject tenant <invalid> may not read tenant <invalid>"},
	}
}
