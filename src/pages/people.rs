//! Pieces shared by the pages that invite people: the one-time link dialog
//! and the list of invitations not yet accepted.

use crate::components::{format_datetime, SecretField};
use crate::people::{IssuedInvitation, PendingInvitation};
use leptos::html::Dialog;
use leptos::prelude::*;

/// Opens a dialog with `fresh`'s link whenever it is set; the link lives only
/// while the dialog is open.
#[component]
pub fn InvitationDialog(fresh: RwSignal<Option<IssuedInvitation>>) -> impl IntoView {
    let dialog = NodeRef::<Dialog>::new();
    Effect::new(move |_| {
        if fresh.with(Option::is_some) {
            if let Some(dialog) = dialog.get() {
                if !dialog.open() {
                    let _ = dialog.show_modal();
                }
            }
        }
    });
    let done = move |_| {
        fresh.set(None);
        if let Some(dialog) = dialog.get() {
            dialog.close();
        }
    };
    view! {
        <dialog node_ref=dialog class="dialog" aria-labelledby="invitation-title" on:close=move |_| fresh.set(None)>
            {move || fresh.get().map(|issued| view! {
                <h2 id="invitation-title">{format!("Send this link to {}", issued.email)}</h2>
                <p class="alert alert-warning" role="alert">
                    <strong>"This is the only time the link is shown."</strong>
                    " Whoever opens it can make the account, once, until "
                    {format_datetime(issued.expires_at)}
                    ". Send it privately; Latchkey keeps only a fingerprint."
                </p>
                <SecretField id="new-invitation-link" label="Invitation link" value=issued.link.clone()/>
                <div class="dialog-actions">
                    <button type="button" class="btn btn-primary" on:click=done>"Done"</button>
                </div>
            })}
        </dialog>
    }
}

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
