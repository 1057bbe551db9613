# Roles: what each role may do. A subject needs at least one recognised role.
package artifact_plane.authz.roles

import data.artifact_plane.authz.actions

# Role -> the actions it grants.
# Only stewards delete or change retention (retention_policy, TTL): what is kept
# and for how long is a data steward's call, not every writer's. Only admins
# read the decision log beyond their own decisions (audit.read). Admins are not
# stewards by virtue of the role: a subject that does both holds both roles.
grants := {
	"reader": {"read", "list", "lineage.read", "export"},
	"writer": {"read", "list", "lineage.read", "export", "create", "update", "lineage.register"},
	"steward": {"read", "list", "lineage.read", "export", "create", "update", "lineage.register", "delete", "retention"},
	"admin": {"read", "list", "lineage.read", "export", "create", "update", "lineage.register", "audit.read"},
}

assess(req) := judge(req, {role | some role in object.get(req.subject, "roles", []); grants[role]})

judge(req, have) := actions.refused(concat("", [
	"roles: unknown action ", actions.text(object.get(req, "action", "<none>")),
	" (known: ", concat(", ", sort([action | some action in actions.all])), ")",
])) if {
	not object.get(req, "action", null) in actions.all
} else := actions.refused(concat("", [
	"roles: subject ", actions.text(object.get(req.subject, "id", "<none>")),
	" has no recognised role (one of: ", concat(", ", sort([role | grants[role]])), ")",
])) if {
	count(have) == 0
} else := actions.allowed if {
	some role in have
	req.action in grants[role]
} else := actions.refused(concat("", [
	"roles: subject ", actions.text(object.get(req.subject, "id", "<none>")),
	" with roles ", concat(", ", sort([role | some role in have])),
	" may not ", wording(req.action),
]))

# An action name as a denial says it, where the bare name reads badly.
wording(action) := "retention (change retention_policy or ttl)" if action == "retention" else := action
