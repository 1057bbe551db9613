# Realm permissions, from the realm manifests handed in as data.realms.
#
# A subject acting for a realm (a realm service) may write only where its
# manifest's permissions.write allows, and read other realms only where its
# permissions.read allows. A subject with no realm (a person using the CLI or
# API) is governed by roles alone.
#
# Each helper is called once per request and hands its result down: regopy
# does not cache function results, so recomputing one costs real time.
package artifact_plane.authz.realms

import data.artifact_plane.authz.actions

assess(req, manifests) := actions.allowed if {
	object.get(req.subject, "realm", null) == null
} else := judge(req, manifest, locate(req)) if {
	manifest := manifests[req.subject.realm]
} else := actions.refused(concat("", [
	"realm_unknown: subject realm ", actions.text(req.subject.realm),
	" has no realm manifest (known: ", concat(", ", sort([name | manifests[name]])), ")",
]))

# "self" in a manifest or a URI means the subject's own realm.
resolve(name, own) := own if name == "self" else := name

# Where the request points: {realm, path} for a URI, {realm} for a realm,
# {} for neither (a query, an execution), {problem} when the URI cannot be trusted.
locate(req) := agree(parse_uri(req.resource.uri, req.subject.realm), req.resource) if {
	is_string(req.resource.uri)
} else := {"realm": req.resource.realm} if {
	is_string(req.resource.realm)
} else := {}

parse_uri(uri, own) := {"realm": resolve(head, own), "path": path} if {
	startswith(uri, "artifact://")
	rest := substring(uri, count("artifact://"), -1)
	cut := indexof(rest, "/")
	cut > 0
	head := substring(rest, 0, cut)
	path := substring(rest, cut + 1, -1)
	path != ""
} else := {"problem": concat("", ["realm_uri: ", uri, " is not an artifact://realm/path URI"])}

agree(place, resource) := place if {
	place.problem
} else := place if {
	not is_string(object.get(resource, "realm", null))
} else := place if {
	place.realm == resource.realm
} else := {"problem": concat("", [
	"realm_uri: ", resource.uri, " is in realm ", place.realm,
	" but the resource says realm ", resource.realm,
])}

# A listing is a query, not an artifact: each artifact it returns is read-checked.
judge(req, manifest, place) := actions.allowed if {
	req.action == "list"
} else := actions.refused(place.problem) if {
	place.problem
} else := actions.allowed if {
	req.action in actions.write
	may_write(manifest.permissions.write, place, req.subject.realm)
} else := actions.allowed if {
	req.action in actions.read
	may_read(manifest.permissions.read, place, req)
} else := actions.refused(denial(req, place))

may_write(rules, place, own) if {
	some rule in rules
	resolve(rule.to, own) == place.realm
	path_allowed(rule, place)
}

# Nothing named (an execution with no realm, say): only tenant and roles apply.
may_read(_, place, _) if not place.realm

may_read(_, place, req) if place.realm == req.subject.realm

may_read(rules, place, req) if {
	some rule in rules
	resolve(rule.from, req.subject.realm) == place.realm
	path_allowed(rule, place)
	type_allowed(rule, req.resource)
}

path_allowed(_, place) if not place.path

# No paths (absent or null) means everywhere.
paths(rule) := object.get(rule, "paths", null) if object.get(rule, "paths", null) != null else := ["**"]

path_allowed(rule, place) if {
	some pattern in paths(rule)
	glob.match(pattern, ["/"], place.path)
}

# No allowedTypes (absent or null) means every type.
type_allowed(rule, _) if object.get(rule, "allowedTypes", null) == null

type_allowed(rule, resource) if resource.artifact_type in rule.allowedTypes

denial(req, place) := concat("", ["realm_write: realm ", req.subject.realm, " may not write ", req.resource.uri]) if {
	req.action in actions.write
	place.path
} else := concat("", ["realm_write: realm ", req.subject.realm, " may not write into realm ", place.realm]) if {
	req.action in actions.write
	place.realm
} else := concat("", [
	"realm_write: realm ", req.subject.realm, " may not ", req.action, " a resource that names no realm",
]) if {
	req.action in actions.write
} else := concat("", [
	"realm_read: realm ", req.subject.realm, " may not read ", req.resource.uri,
	" (type ", actions.text(object.get(req.resource, "artifact_type", "<none>")), ")",
]) if {
	req.action in actions.read
	place.path
} else := concat("", [
	"realm_read: realm ", req.subject.realm, " may not read realm ", place.realm,
	" (type ", actions.text(object.get(req.resource, "artifact_type", "<none>")), ")",
]) if {
	req.action in actions.read
	place.realm
} else := concat("", [
	"realm_action: realm ", req.subject.realm, " has no permission for action ",
	actions.text(object.get(req, "action", "<none>")),
])
