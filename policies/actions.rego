# The actions a request can name, grouped by what they do to artifacts, and
# small helpers every concern uses.
package artifact_plane.authz.actions

# export: taking a payload out of the plane (a REST download, `artifact-plane get`);
# judged as a read by realm permissions, and by classification (classification.rego).
read := {"read", "list", "lineage.read", "export"}

# retention: change an artifact's retention (retention_policy and/or TTL) after creation.
write := {"create", "update", "delete", "retention", "lineage.register"}

# Reading the decision log beyond one's own decisions (other subjects, or all of them).
audit := {"audit.read"}

# Spelled out rather than read | write | audit: regopy recomputes a union on every query.
all := {"read", "list", "lineage.read", "export", "create", "update", "delete", "retention", "lineage.register", "audit.read"}

# A value as message text: messages are built with concat, which takes
# strings only (regopy's sprintf quotes strings other built-ins made).
text(value) := value if is_string(value) else := "<invalid>"

# The answer of one concern: allowed, or the objections that say why not.
allowed := {"allow": true, "objections": set()}

refused(reason) := {"allow": false, "objections": {reason}}
