//! Pieces shared by the pages that invite people: the list of invitations
//! not yet accepted.

use crate::components::format_datetime;
use crate::people::PendingInvitation;
use leptos::prelude::*;

/// Pending invitations as table rows; `withdraw` makes each row's form.
pub fn invitation_rows(
    invitations: Vec<PendingInvitation>,
    withdraw: impl Fn(&PendingInvitation) -> AnyView,
) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table>
                <caption class="visually-hidden">"Invitations not accepted yet"</caption>
                <thead><tr>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Joins as"</th>
                    <th scope="col">"Invited by"</th>
                    <th scope="col">"Expires"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {invitations.iter().map(|invitation| {
                        let joins_as = match (&invitation.organization, invitation.role) {
                            (Some(org), Some(role)) => format!("{} of {org}", role.label()),
                            _ if invitation.instance_admin => "Instance admin".to_string(),
                            _ => "Member of the instance".to_string(),
                        };
                        view! {
                            <tr>
                                <th scope="row">{invitation.email.clone()}</th>
                                <td data-label="Joins as">{joins_as}</td>
                                <td data-label="Invited by">{invitation.invited_by.clone()}</td>
                                <td data-label="Expires">
                                    {if invitation.expired {
                                        view! { <span class="badge badge-danger">"Expired"</span> }.into_any()
                                    } else {
                                        view! { <time>{format_datetime(invitation.expires_at)}</time> }.into_any()
                                    }}
                                </td>
                                <td class="actions">{withdraw(invitation)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
