# The actions a request can name, grouped by what they do to artifacts, and
# small helpers every concern uses.
package artifact_plane.authz.actions

read := {"read", "list", "lineage.read"}

write := {"create", "update", "delete", "lineage.register"}

# Reading the decision log beyond one's own decisions (other subjects, or all of them).
audit := {"audit.read"}

# Spelled out rather than read | write | audit: regopy recomputes a union on every query.
all := {"read", "list", "lineage.read", "create", "update", "delete", "lineage.register", "audit.read"}

# A value as message text: messages are built with concat, which takes
# strings only (regopy's sprintf quotes strings other built-ins made).
text(value) := value if is_string(value) else := "<invalid>"

# The answer of one concern: allowed, or the objections that say why not.
allowed := {"allow": true, "objections": set()}

refused(reason) := {"allow": false, "objections": {reason}}
