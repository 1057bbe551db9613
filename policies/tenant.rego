# Tenant isolation: every action, by every subject, stays inside its own tenant.
package artifact_plane.authz.tenant

import data.artifact_plane.authz.actions

assess(req) := actions.allowed if {
	is_string(req.subject.tenant)
	req.subject.tenant == req.resource.tenant_id
} else := actions.refused(concat(" ", [
	"tenant_isolation: subject tenant", actions.text(object.get(req, ["subject", "tenant"], "<none>")),
	"may not", actions.text(object.get(req, "action", "<none>")),
	"tenant", actions.text(object.get(req, ["resource", "tenant_id"], "<none>")),
]))
