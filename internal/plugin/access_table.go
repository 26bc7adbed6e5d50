package plugin

import (
	"fmt"
	"io"
)

// The human output of kubectl scim access: a header in the style of kubectl describe, then a table
// with one row per grant.

// accessText is how the ACCESS column shows each Access* state.
var accessText = map[string]string{
	AccessHeld:         "held",
	AccessRevoking:     "held, being revoked",
	AccessPending:      "not held: pending",
	AccessForbidden:    "not held: forbidden to the operator",
	AccessFailed:       "not held: binding failed",
	AccessSuspended:    "not held: suspended",
	AccessDeleting:     "not held: being deleted",
	AccessReservedName: "not held: reserved subject name",
	AccessNoUser:       "not held: no ScimUser",
	AccessNotGranted:   "not held: no longer granted",
}

func (r *UserAccess) printTable(w io.Writer) {
	u := r.User
	block(w, func(w io.Writer) {
		fmt.Fprintf(w, "User:\t%s\n", u.ID)
		fmt.Fprintf(w, "UserName:\t%s\n", u.UserName)
		fmt.Fprintf(w, "Subject:\tUser %q\n", u.Subject)
		fmt.Fprintf(w, "State:\t%s\n", u.state())
		fmt.Fprintf(w, "Managed-By:\t%s\n", orNone(u.ManagedBy))
		fmt.Fprintf(w, "Ready:\t%s\n", u.Ready)
	})
	fmt.Fprintln(w)
	if len(r.Roles) == 0 {
		fmt.Fprintln(w, "The user is in no role.")
		return
	}
	block(w, func(w io.Writer) {
		fmt.Fprintln(w, "ROLE\tGRANT\tNAMESPACE\tACCESS\tBINDING")
		for _, role := range r.Roles {
			name := fmt.Sprintf("%s (%s)", role.ID, role.DisplayName)
			if len(role.Grants) == 0 {
				fmt.Fprintf(w, "%s\t<none>\t\t\t\n", name)
			}
			for _, g := range role.Grants {
				fmt.Fprintf(w, "%s\t%s\n", name, g.row())
				name = ""
			}
		}
	})
}

func (r *RoleAccess) printTable(w io.Writer) {
	block(w, func(w io.Writer) {
		fmt.Fprintf(w, "Role:\t%s (%s)\n", r.Role.ID, r.Role.DisplayName)
		fmt.Fprintf(w, "Managed-By:\t%s\n", orNone(r.Role.ManagedBy))
		if r.Role.Deleting {
			fmt.Fprintf(w, "State:\tbeing deleted\n")
		}
		fmt.Fprintf(w, "Ready:\t%s\n", r.Role.Ready)
		fmt.Fprintf(w, "Members:\t%d\n", len(r.Members))
	})
	fmt.Fprintln(w)
	if len(r.Grants) == 0 {
		fmt.Fprintln(w, "The role grants nothing.")
	}
	if len(r.Grants) > 0 {
		block(w, func(w io.Writer) {
			fmt.Fprintln(w, "GRANT\tNAMESPACE\tSTATE\tBINDING\tSUBJECTS")
			for _, g := range r.Grants {
				if len(g.Bindings) == 0 {
					fmt.Fprintf(w, "%s\t%s\t%s\t<none>\t\n", g.Grant, g.namespace(), g.State)
				}
				for _, b := range g.Bindings {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s/%s\t%d\n", g.Grant, g.namespace(), g.State, b.Kind, b.Name, b.Subjects)
				}
			}
		})
	}
	if len(r.Members) == 0 {
		return
	}
	fmt.Fprintln(w)
	block(w, func(w io.Writer) {
		fmt.Fprintln(w, "MEMBER\tUSERNAME\tSTATE\tGRANT\tNAMESPACE\tACCESS\tBINDING")
		for _, m := range r.Members {
			member := fmt.Sprintf("%s\t%s\t%s", m.ID, orNone(m.UserName), m.state())
			if !m.Exists {
				member = fmt.Sprintf("%s\t<none>\tno ScimUser", m.ID)
			}
			if len(m.Grants) == 0 {
				fmt.Fprintf(w, "%s\t<none>\t\t\t\n", member)
			}
			for _, g := range m.Grants {
				fmt.Fprintf(w, "%s\t%s\n", member, g.row())
				member = "\t\t"
			}
		}
	})
}

// row is the GRANT, NAMESPACE, ACCESS and BINDING columns.
func (a GrantAccess) row() string {
	binding := "<none>"
	if a.Binding != nil {
		binding = a.Binding.Kind + "/" + a.Binding.Name
	}
	text := accessText[a.State]
	if text == "" {
		text = a.State
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s", a.Grant, a.namespace(), text, binding)
}

// String is the grant as the GRANT column shows it, e.g. ClusterRole/view.
func (g Grant) String() string { return g.Kind + "/" + g.Name }

// namespace is the grant's NAMESPACE column.
func (g Grant) namespace() string {
	if g.Namespace == "" {
		return "(cluster-wide)"
	}
	return g.Namespace
}

// state is the user's state in a few words: Active, Suspended by admin, Deleting, ...
func (u UserState) state() string {
	switch {
	case u.Deleting:
		return "Deleting"
	case !u.Active && u.SuspendedBy != "":
		return "Suspended by " + u.SuspendedBy
	case !u.Active:
		return "Suspended"
	}
	return "Active"
}

// String shows the condition as "True (BindingsApplied): message".
func (c Condition) String() string {
	s := c.Status
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
