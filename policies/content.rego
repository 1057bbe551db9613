# Content rules: what may be written into a realm, from that realm's manifest
# (data.realms[<realm>].content):
#
#   content:
#     allowedTypes: [roadmap, poc]   # the artifact types the realm holds (absent: any)
#     maxSizeBytes: 10485760         # the largest payload (absent: only AP_MAX_PAYLOAD_BYTES)
#     sensitiveTypes: [dataset]      # types that must carry a retention_policy
#
# The realm that holds the artifact decides, whoever writes it: a person with
# no realm is held to the same rules as a realm service. A size is compared
# only as `size_bytes > maxSizeBytes` (decision_inputs.json declares it so the
# decision cache keys sizes by threshold, not by value).
#
# Helper names are unique across packages on purpose: regopy 1.5.2 crashes
# (SIGSEGV) or fails to compile when two packages declare functions of the
# same name (here `judge`, `verdict`), depending on module order.
package artifact_plane.authz.content

import data.artifact_plane.authz.actions

# What the platform itself writes into any realm: an execution's invocation
# record, and the execution a run creates (decided as type "execution").
platform_types := {"invocation", "execution"}

assess(req, manifests) := judge_content(req, rules_of(manifests, object.get(req.resource, "realm", null))) if {
	req.action in {"create", "update"}
} else := judge_retention_change(req, rules_of(manifests, object.get(req.resource, "realm", null))) if {
	req.action == "retention"
} else := actions.allowed

rules_of(manifests, realm) := object.get(object.get(manifests, realm, {}), "content", {}) if {
	is_string(realm)
} else := {}

judge_content(req, rules) := verdict_content({reason |
	some reason in [type_problem(req, rules), size_problem(req, rules), retention_problem(req, rules)]
	reason != ""
})

verdict_content(objections) := actions.allowed if count(objections) == 0 else := {"allow": false, "objections": objections}

type_problem(req, rules) := concat("", [
	"content_type: type ", actions.text(object.get(req.resource, "artifact_type", "<none>")),
	" is not allowed in realm ", req.resource.realm,
	" (allowed: ", concat(", ", sort(rules.allowedTypes)), ")",
]) if {
	is_array(object.get(rules, "allowedTypes", null))
	not object.get(req.resource, "artifact_type", null) in platform_types
	not object.get(req.resource, "artifact_type", null) in rules.allowedTypes
} else := ""

# The size itself stays out of the message: decisions are cached by which
# limits a size exceeds, so two sizes over the same limit share one answer.
size_problem(req, rules) := concat("", [
	"content_size: the payload is over realm ", req.resource.realm, "'s limit of ",
	format_int(rules.maxSizeBytes, 10), " bytes (content.maxSizeBytes)",
]) if {
	is_number(object.get(rules, "maxSizeBytes", null))
	req.resource.size_bytes > rules.maxSizeBytes
} else := ""

retention_problem(req, rules) := concat("", [
	"content_retention: type ", req.resource.artifact_type, " is sensitive in realm ", req.resource.realm,
	": give a retention_policy",
]) if {
	object.get(req.resource, "artifact_type", null) in object.get(rules, "sensitiveTypes", [])
	not has_text(object.get(req.resource, "retention_policy", null))
} else := ""

# A steward changing retention (action retention) may not clear a sensitive type's policy.
judge_retention_change(req, rules) := actions.refused(concat("", [
	"content_retention: type ", req.resource.artifact_type, " is sensitive in realm ", req.resource.realm,
	": its retention_policy cannot be cleared",
])) if {
	object.get(req.resource, "artifact_type", null) in object.get(rules, "sensitiveTypes", [])
	not has_text(object.get(req.resource, "new_retention_policy", null))
} else := actions.allowed

has_text(value) if {
	is_string(value)
	value != ""
}
