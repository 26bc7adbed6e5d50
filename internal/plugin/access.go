package plugin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
	"github.com/scim-operator/scim-operator/controllers/access/rbac"
)

// Values of GrantAccess.State: whether a grant holds a user, and why not.
const (
	// AccessHeld: a binding of the grant names the user's subject, as it should.
	AccessHeld = "Held"
	// AccessRevoking: a binding names the subject although it should not (the user is suspended or
	// being deleted, the role no longer declares the grant); the operator is about to remove it.
	AccessRevoking = "Revoking"
	// AccessPending: the user should hold the grant and does not yet.
	AccessPending = "Pending"
	// AccessForbidden: the operator may not bind the granted role (the role is BindForbidden).
	AccessForbidden = "Forbidden"
	// AccessFailed: the operator could not write the grant's binding (the role is BindingFailed).
	AccessFailed = "Failed"
	// AccessSuspended: the user is suspended, so no binding holds it.
	AccessSuspended = "Suspended"
	// AccessDeleting: the user or the role is being deleted, so no binding holds the user.
	AccessDeleting = "Deleting"
	// AccessReservedName: the user's subject lies in Kubernetes' reserved system: namespace, which
	// no binding names.
	AccessReservedName = "ReservedName"
	// AccessNoUser: the role lists a member that has no ScimUser.
	AccessNoUser = "NoUser"
	// AccessNotGranted: the role no longer declares the grant.
	AccessNotGranted = "NotGranted"
)

// Values of RoleGrant.State.
const (
	// GrantApplied: the grant's bindings exist.
	GrantApplied = "Applied"
	// GrantPending: the operator has not written the grant's bindings yet.
	GrantPending = "Pending"
	// GrantForbidden: the grant has no binding and the role is BindForbidden.
	GrantForbidden = "Forbidden"
	// GrantFailed: the grant has no binding and the role is BindingFailed.
	GrantFailed = "Failed"
	// GrantRemoving: the role no longer declares the grant; its bindings are about to go.
	GrantRemoving = "Removing"
)

// UserAccess is what `kubectl scim access USER -o json|yaml` prints: the user, the roles it is in,
// what each grants and which binding holds the user.
type UserAccess struct {
	metav1.TypeMeta `json:",inline"`
	// User is the user's state.
	User UserState `json:"user"`
	// Roles are the ScimRoles whose spec.members list the user, sorted by id.
	Roles []UserRole `json:"roles"`
}

// RoleAccess is what `kubectl scim access --role ROLE -o json|yaml` prints: the role, its grants
// and bindings, and for each member whether each grant holds it.
type RoleAccess struct {
	metav1.TypeMeta `json:",inline"`
	// Role is the role's state.
	Role RoleState `json:"role"`
	// Grants are the role's grants with their bindings.
	Grants []RoleGrant `json:"grants"`
	// Members are the role's members, in spec.members order.
	Members []RoleMember `json:"members"`
}

// UserState is the state of a ScimUser.
type UserState struct {
	// ID is the SCIM id, the ScimUser's name.
	ID string `json:"id"`
	// UserName is spec.userName.
	UserName string `json:"userName,omitempty"`
	// Subject is the name of the user's RBAC User subject (status.subject, else userName).
	Subject string `json:"subject,omitempty"`
	// Active is spec.active.
	Active bool `json:"active"`
	// SuspendedBy is who suspended the user: provider or admin.
	SuspendedBy string `json:"suspendedBy,omitempty"`
	// ManagedBy is the provider that manages the user.
	ManagedBy string `json:"managedBy,omitempty"`
	// Deleting is true while the user is being deleted.
	Deleting bool `json:"deleting,omitempty"`
	// Ready is the user's Ready condition.
	Ready Condition `json:"ready"`
}

// RoleState is the state of a ScimRole.
type RoleState struct {
	// ID is the SCIM id, the ScimRole's name.
	ID string `json:"id"`
	// DisplayName is spec.displayName.
	DisplayName string `json:"displayName"`
	// ManagedBy is the provider that manages the role.
	ManagedBy string `json:"managedBy,omitempty"`
	// Deleting is true while the role is being deleted.
	Deleting bool `json:"deleting,omitempty"`
	// Ready is the role's Ready condition.
	Ready Condition `json:"ready"`
}

// Condition is a condition's status ("Unknown" when it is not set yet), reason and message.
type Condition struct {
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Grant is a ClusterRole granted cluster-wide, or a Role or ClusterRole granted in a namespace.
type Grant struct {
	// Kind is ClusterRole or Role.
	Kind string `json:"kind"`
	// Name is the granted role's name.
	Name string `json:"name"`
	// Namespace is where the grant applies; empty for cluster-wide.
	Namespace string `json:"namespace,omitempty"`
}

// UserRole is a role of a user and what each of its grants does for the user.
type UserRole struct {
	RoleState `json:",inline"`
	// Grants are the role's declared grants, and grants it no longer declares whose binding still
	// holds the user.
	Grants []GrantAccess `json:"grants"`
}

// GrantAccess says whether a grant holds a user.
type GrantAccess struct {
	Grant `json:",inline"`
	// Declared is false for a grant the role no longer declares.
	Declared bool `json:"declared"`
	// Holds is true when a binding of the grant names the user's subject.
	Holds bool `json:"holds"`
	// State is one of the Access* values: Held, or why the grant does not (or should not) hold the user.
	State string `json:"state"`
	// Binding is the binding that names the user's subject.
	Binding *identityv1alpha1.BindingReference `json:"binding,omitempty"`
}

// RoleGrant is a grant of a role with its bindings.
type RoleGrant struct {
	Grant `json:",inline"`
	// Declared is false for a grant the role no longer declares.
	Declared bool `json:"declared"`
	// State is one of the Grant* values.
	State string `json:"state"`
	// Bindings are the grant's bindings (several when the subjects are split).
	Bindings []Binding `json:"bindings"`
}

// Binding is a ClusterRoleBinding or RoleBinding of a role.
type Binding struct {
	identityv1alpha1.BindingReference `json:",inline"`
	// Subjects is the number of its subjects.
	Subjects int `json:"subjects"`
}

// RoleMember is a member of a role and what each grant of the role does for it.
type RoleMember struct {
	UserState `json:",inline"`
	// Exists is false for a member without a ScimUser.
	Exists bool `json:"exists"`
	// Grants are the role's grants (RoleAccess.Grants), in the same order.
	Grants []GrantAccess `json:"grants"`
}

func newAccessCommand(o *options) *cobra.Command {
	var out outputFlag
	var role string
	cmd := &cobra.Command{
		Use:   "access (USERNAME | ID | --role ROLE)",
		Short: "Report a user's access, or a role's: roles, grants and the bindings that hold the user",
		Long: "For a user (by userName or SCIM id): whether it is active, who suspended it, which provider manages it, " +
			"its Ready condition, the roles it is in, what each grants and the binding that names the user's subject — " +
			"or why a grant does not hold it (Suspended, Pending, Forbidden, ...). With --role (displayName or id): " +
			"the role, its grants and bindings, and for each member whether each binding holds it.",
		Example: `  kubectl scim access alice@example.com
  kubectl scim access a-474dfefb47e6ab4b -o yaml
  kubectl scim access --role "Platform Team"
  kubectl scim access --role r-ee9fd414607584a8 -o json | jq -r '.members[] | select(any(.grants[]; .holds | not)) | .id'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case role == "" && len(args) != 1:
				return fmt.Errorf("name one user (USERNAME or ID), or a role with --role")
			case role != "" && len(args) != 0:
				return fmt.Errorf("--role takes no USERNAME or ID")
			}
			if err := out.validate(); err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			if role != "" {
				report, err := roleAccess(cmd.Context(), c, role)
				if err != nil {
					return err
				}
				return out.print(o.streams.Out, report, report.printTable)
			}
			report, err := userAccess(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			return out.print(o.streams.Out, report, report.printTable)
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "Report the role with this displayName or SCIM id instead of a user")
	out.add(cmd)
	return cmd
}

// userAccess reports the access of the user named by arg, a SCIM id or a userName.
func userAccess(ctx context.Context, c client.Reader, arg string) (*UserAccess, error) {
	user, err := findUser(ctx, c, arg)
	if err != nil {
		return nil, err
	}
	roles, err := rolesOf(ctx, c, user.Name)
	if err != nil {
		return nil, err
	}
	report := &UserAccess{
		TypeMeta: metav1.TypeMeta{APIVersion: ReportAPIVersion, Kind: "UserAccess"},
		User:     userState(user),
		Roles:    []UserRole{},
	}
	for i := range roles {
		role := &roles[i]
		grants, err := grantsOf(ctx, c, role)
		if err != nil {
			return nil, err
		}
		ur := UserRole{RoleState: roleState(role), Grants: []GrantAccess{}}
		for _, g := range grants {
			a := g.accessOf(role, user, report.User.Subject)
			if g.Declared || a.Holds {
				ur.Grants = append(ur.Grants, a)
			}
		}
		report.Roles = append(report.Roles, ur)
	}
	return report, nil
}

// roleAccess reports the access of the role named by arg, a SCIM id or a displayName.
func roleAccess(ctx context.Context, c client.Reader, arg string) (*RoleAccess, error) {
	role, err := findRole(ctx, c, arg)
	if err != nil {
		return nil, err
	}
	grants, err := grantsOf(ctx, c, role)
	if err != nil {
		return nil, err
	}
	// A large role keeps members in shards too (design.md, "Groups of 100,000 members").
	shards := &identityv1alpha1.ScimRoleMembersList{}
	if err := c.List(ctx, shards, client.MatchingLabels{identityv1alpha1.LabelRole: role.Name}); err != nil {
		return nil, fmt.Errorf("list the member shards of ScimRole %s: %w", role.Name, err)
	}
	members := identityv1alpha1.RoleMembers(role, shards.Items)
	users, err := usersByID(ctx, c, (&identityv1alpha1.ScimRoleSpec{Members: members}).MemberIDs())
	if err != nil {
		return nil, err
	}
	report := &RoleAccess{
		TypeMeta: metav1.TypeMeta{APIVersion: ReportAPIVersion, Kind: "RoleAccess"},
		Role:     roleState(role),
		Grants:   make([]RoleGrant, 0, len(grants)),
		Members:  make([]RoleMember, 0, len(members)),
	}
	for _, g := range grants {
		report.Grants = append(report.Grants, g.RoleGrant)
	}
	for _, m := range members {
		member := RoleMember{UserState: UserState{ID: m.Value, Ready: Condition{Status: string(metav1.ConditionUnknown)}}, Grants: []GrantAccess{}}
		user := users[m.Value]
		if user != nil {
			member.UserState, member.Exists = userState(user), true
		}
		for _, g := range grants {
			member.Grants = append(member.Grants, g.accessOf(role, user, member.Subject))
		}
		report.Members = append(report.Members, member)
	}
	return report, nil
}

func userState(user *identityv1alpha1.ScimUser) UserState {
	subject := user.Status.Subject
	if subject == "" {
		subject = user.Spec.UserName // status written by an operator older than status.subject
	}
	return UserState{
		ID:          user.Name,
		UserName:    user.Spec.UserName,
		Subject:     subject,
		Active:      user.IsActive(),
		SuspendedBy: user.SuspendedBy(),
		ManagedBy:   identityv1alpha1.ManagedBy(user),
		Deleting:    identityv1alpha1.IsTerminating(user),
		Ready:       readyOf(user.Status.Conditions),
	}
}

func roleState(role *identityv1alpha1.ScimRole) RoleState {
	return RoleState{
		ID:          role.Name,
		DisplayName: role.Spec.DisplayName,
		ManagedBy:   identityv1alpha1.ManagedBy(role),
		Deleting:    identityv1alpha1.IsTerminating(role),
		Ready:       readyOf(role.Status.Conditions),
	}
}

func readyOf(conditions []metav1.Condition) Condition {
	c := meta.FindStatusCondition(conditions, identityv1alpha1.ConditionReady)
	if c == nil {
		return Condition{Status: string(metav1.ConditionUnknown)}
	}
	return Condition{Status: string(c.Status), Reason: c.Reason, Message: c.Message}
}

// grantBindings is a grant of a role with the bindings that carry it.
type grantBindings struct {
	RoleGrant
	bindings []rbacBinding
}

// rbacBinding is a binding of a role, with its subjects.
type rbacBinding struct {
	ref      identityv1alpha1.BindingReference
	subjects []rbacv1.Subject
}

// names reports whether the binding names the User subject.
func (b rbacBinding) names(subject string) bool {
	return slices.ContainsFunc(b.subjects, func(s rbacv1.Subject) bool { return s.Kind == rbacv1.UserKind && s.Name == subject })
}

// grantsOf returns the grants of role with their bindings (those labelled with the role): the
// declared ones in declaration order, then those the role no longer declares whose bindings remain.
func grantsOf(ctx context.Context, c client.Reader, role *identityv1alpha1.ScimRole) ([]grantBindings, error) {
	byGrant, err := bindingsOf(ctx, c, role)
	if err != nil {
		return nil, err
	}
	ready := readyOf(role.Status.Conditions)
	var out []grantBindings
	for _, g := range access.GrantsOf(role.Spec.Access) {
		grant := Grant{Kind: g.Kind, Name: g.Name, Namespace: g.Namespace}
		gb := newGrantBindings(grant, true, byGrant[grant])
		delete(byGrant, grant)
		switch {
		case len(gb.bindings) > 0:
			gb.State = GrantApplied
		case ready.Status == string(metav1.ConditionFalse) && ready.Reason == identityv1alpha1.ReasonBindForbidden:
			gb.State = GrantForbidden
		case ready.Status == string(metav1.ConditionFalse) && ready.Reason == identityv1alpha1.ReasonBindingFailed:
			gb.State = GrantFailed
		default:
			gb.State = GrantPending
		}
		out = append(out, gb)
	}
	stale := slices.SortedFunc(func(yield func(Grant) bool) {
		for g := range byGrant {
			if !yield(g) {
				return
			}
		}
	}, func(a, b Grant) int {
		return strings.Compare(a.Namespace+"/"+a.Kind+"/"+a.Name, b.Namespace+"/"+b.Kind+"/"+b.Name)
	})
	for _, g := range stale {
		gb := newGrantBindings(g, false, byGrant[g])
		gb.State = GrantRemoving
		out = append(out, gb)
	}
	return out, nil
}

func newGrantBindings(g Grant, declared bool, bindings []rbacBinding) grantBindings {
	gb := grantBindings{RoleGrant: RoleGrant{Grant: g, Declared: declared, Bindings: []Binding{}}, bindings: bindings}
	for _, b := range bindings {
		gb.Bindings = append(gb.Bindings, Binding{BindingReference: b.ref, Subjects: len(b.subjects)})
	}
	return gb
}

// accessOf says whether the grant holds user (nil: the member has no ScimUser) of role, whose
// subject is named subject.
func (g grantBindings) accessOf(role *identityv1alpha1.ScimRole, user *identityv1alpha1.ScimUser, subject string) GrantAccess {
	a := GrantAccess{Grant: g.Grant, Declared: g.Declared}
	if user != nil {
		for _, b := range g.bindings {
			if b.names(subject) {
				a.Binding = &b.ref
				break
			}
		}
	}
	a.Holds = a.Binding != nil
	why := whyNoAccess(role, user, subject, g.Declared)
	switch {
	case a.Holds && why == "":
		a.State = AccessHeld
	case a.Holds:
		a.State = AccessRevoking
	case why != "":
		a.State = why
	case g.State == GrantForbidden:
		a.State = AccessForbidden
	case g.State == GrantFailed:
		a.State = AccessFailed
	default:
		a.State = AccessPending
	}
	return a
}

// whyNoAccess returns the Access* state that says why user (nil: none) should hold no binding of
// a grant of role, or "" when it should hold the grant.
func whyNoAccess(role *identityv1alpha1.ScimRole, user *identityv1alpha1.ScimUser, subject string, declared bool) string {
	switch {
	case user == nil:
		return AccessNoUser
	case identityv1alpha1.IsTerminating(user) || identityv1alpha1.IsTerminating(role):
		return AccessDeleting
	case !user.IsActive():
		return AccessSuspended
	case identityv1alpha1.IsReservedSubject(subject):
		return AccessReservedName
	case !declared:
		return AccessNotGranted
	}
	return ""
}

// bindingsOf returns the ClusterRoleBindings and RoleBindings of role, by grant, each grant's
// sorted by namespace and name: those labelled with the role and, when the operator shares
// bindings between roles (--rbac-shared-bindings), the shared bindings of the grants it declares.
func bindingsOf(ctx context.Context, c client.Reader, role *identityv1alpha1.ScimRole) (map[Grant][]rbacBinding, error) {
	byGrant := map[Grant][]rbacBinding{}
	declared := access.GrantsOf(role.Spec.Access)
	add := func(kind string, obj metav1.Object, ref rbacv1.RoleRef, subjects []rbacv1.Subject) {
		g := Grant{Kind: ref.Kind, Name: ref.Name, Namespace: obj.GetNamespace()}
		if role, ok := obj.GetLabels()[identityv1alpha1.LabelRole]; ok && role == "" &&
			!slices.Contains(declared, access.Grant{Kind: g.Kind, Name: g.Name, Namespace: g.Namespace}) {
			return // a shared binding of another grant whose label has the same hash
		}
		byGrant[g] = append(byGrant[g], rbacBinding{
			ref:      identityv1alpha1.BindingReference{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()},
			subjects: subjects,
		})
	}
	selectors := []labels.Selector{labels.SelectorFromSet(labels.Set{identityv1alpha1.LabelRole: rbac.RoleLabelValue(role.Name)})}
	if len(declared) > 0 {
		keys := make([]string, len(declared))
		for i, g := range declared {
			keys[i] = rbac.GrantLabelValue(g)
		}
		req, err := labels.NewRequirement(identityv1alpha1.LabelGrant, selection.In, keys)
		if err != nil {
			return nil, err
		}
		selectors = append(selectors, labels.NewSelector().Add(*req))
	}
	for _, selector := range selectors {
		crbs := &rbacv1.ClusterRoleBindingList{}
		if err := listPages(ctx, c, crbs, func() {
			for i := range crbs.Items {
				add("ClusterRoleBinding", &crbs.Items[i], crbs.Items[i].RoleRef, crbs.Items[i].Subjects)
			}
		}, client.MatchingLabelsSelector{Selector: selector}); err != nil {
			return nil, fmt.Errorf("list ClusterRoleBindings of role %s: %w", role.Name, err)
		}
		rbs := &rbacv1.RoleBindingList{}
		if err := listPages(ctx, c, rbs, func() {
			for i := range rbs.Items {
				add("RoleBinding", &rbs.Items[i], rbs.Items[i].RoleRef, rbs.Items[i].Subjects)
			}
		}, client.MatchingLabelsSelector{Selector: selector}); err != nil {
			return nil, fmt.Errorf("list RoleBindings of role %s: %w", role.Name, err)
		}
	}
	for _, bindings := range byGrant {
		slices.SortFunc(bindings, func(a, b rbacBinding) int {
			return strings.Compare(a.ref.Namespace+"/"+a.ref.Name, b.ref.Namespace+"/"+b.ref.Name)
		})
	}
	return byGrant, nil
}

// findUser returns the ScimUser whose id or userName is arg.
func findUser(ctx context.Context, c client.Reader, arg string) (*identityv1alpha1.ScimUser, error) {
	list := &identityv1alpha1.ScimUserList{}
	return find(ctx, c, arg, "ScimUser", "userName", list, func() []identityv1alpha1.ScimUser { return list.Items },
		func(u *identityv1alpha1.ScimUser) string { return u.Spec.UserName })
}

// findRole returns the ScimRole whose id or displayName is arg.
func findRole(ctx context.Context, c client.Reader, arg string) (*identityv1alpha1.ScimRole, error) {
	list := &identityv1alpha1.ScimRoleList{}
	return find(ctx, c, arg, "ScimRole", "displayName", list, func() []identityv1alpha1.ScimRole { return list.Items },
		func(r *identityv1alpha1.ScimRole) string { return r.Spec.DisplayName })
}

// find returns the object named arg (its SCIM id), or else the one whose name, as nameOf returns
// it, has the identity key of arg: names compare as the operator compares them. items returns the
// items of list, read page by page; kind and attribute name them in errors.
func find[T any, PT interface {
	*T
	client.Object
}](ctx context.Context, c client.Reader, arg, kind, attribute string, list client.ObjectList, items func() []T, nameOf func(PT) string) (PT, error) {
	obj := PT(new(T))
	if found, err := getByID(ctx, c, arg, obj); found || err != nil {
		return obj, err
	}
	key := identityv1alpha1.IdentityKey(arg)
	var matches []PT
	if err := listPages(ctx, c, list, func() {
		page := items()
		for i := range page {
			if identityv1alpha1.IdentityKey(nameOf(&page[i])) == key {
				matches = append(matches, &page[i])
			}
		}
	}); err != nil {
		return nil, fmt.Errorf("list %ss: %w", kind, err)
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("no %s has the id or %s %q", kind, attribute, arg)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = m.GetName()
	}
	return nil, fmt.Errorf("several %ss have the %s %q: %s; name one by id", kind, attribute, arg, strings.Join(names, ", "))
}

// getByID reads the object named id into obj; it reports false without an error when there is
// none, or when id cannot be an object name (a userName such as alice@example.com).
func getByID(ctx context.Context, c client.Reader, id string, obj client.Object) (bool, error) {
	if len(validation.IsDNS1123Subdomain(id)) > 0 {
		return false, nil
	}
	err := c.Get(ctx, client.ObjectKey{Name: id}, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", id, err)
	}
	return true, nil
}

// rolesOf returns the roles that have the user id as a member, in their spec.members or in a
// member shard they own, sorted by name.
func rolesOf(ctx context.Context, c client.Reader, id string) ([]identityv1alpha1.ScimRole, error) {
	var inShards []identityv1alpha1.ScimRoleMembers
	shards := &identityv1alpha1.ScimRoleMembersList{}
	if err := listPages(ctx, c, shards, func() {
		for _, sh := range shards.Items {
			if slices.Contains(sh.Spec.MemberIDs(), id) {
				inShards = append(inShards, sh)
			}
		}
	}); err != nil {
		return nil, fmt.Errorf("list ScimRoleMembers: %w", err)
	}
	var roles []identityv1alpha1.ScimRole
	list := &identityv1alpha1.ScimRoleList{}
	if err := listPages(ctx, c, list, func() {
		for _, r := range list.Items {
			if slices.ContainsFunc(r.Spec.Members, func(m identityv1alpha1.Member) bool { return m.Value == id }) ||
				slices.ContainsFunc(inShards, func(sh identityv1alpha1.ScimRoleMembers) bool { return r.OwnsShard(&sh) }) {
				roles = append(roles, r)
			}
		}
	}); err != nil {
		return nil, fmt.Errorf("list ScimRoles: %w", err)
	}
	slices.SortFunc(roles, func(a, b identityv1alpha1.ScimRole) int { return strings.Compare(a.Name, b.Name) })
	return roles, nil
}

// memberGets is the largest number of members read one by one; a larger role reads every user.
const memberGets = 200

// usersByID returns the ScimUsers of ids that exist, by id.
func usersByID(ctx context.Context, c client.Reader, ids []string) (map[string]*identityv1alpha1.ScimUser, error) {
	users := make(map[string]*identityv1alpha1.ScimUser, len(ids))
	if len(ids) <= memberGets {
		for _, id := range ids {
			user := &identityv1alpha1.ScimUser{}
			found, err := getByID(ctx, c, id, user)
			if err != nil {
				return nil, err
			}
			if found {
				users[id] = user
			}
		}
		return users, nil
	}
	wanted := make(map[string]bool, len(ids))
	for _, id := range ids {
		wanted[id] = true
	}
	list := &identityv1alpha1.ScimUserList{}
	if err := listPages(ctx, c, list, func() {
		for i := range list.Items {
			if wanted[list.Items[i].Name] {
				users[list.Items[i].Name] = &list.Items[i]
			}
		}
	}); err != nil {
		return nil, fmt.Errorf("list ScimUsers: %w", err)
	}
	return users, nil
}

// pageSize is the number of objects a list reads at a time.
const pageSize = 250

// listPages lists into list page by page, calling each after every page, so that a large list is
// never held whole. Each page is decoded into new items: what each keeps of a page stays intact.
func listPages(ctx context.Context, c client.Reader, list client.ObjectList, each func(), opts ...client.ListOption) error {
	next := ""
	for {
		if err := meta.SetList(list, nil); err != nil {
			return err
		}
		if err := c.List(ctx, list, append(slices.Clone(opts), client.Limit(pageSize), client.Continue(next))...); err != nil {
			return err
		}
		each()
		if next = list.GetContinue(); next == "" {
			return nil
		}
	}
}
