"""Who may do what to an incident (DESIGN.md, security rules).

Viewers read. Responders declare, join, and edit (timeline, checklists) the
incidents they work on: those where they hold a role or have joined. Incident
Commanders and Managers, and whoever is the incident's own commander, transition,
change severity, assign roles and resolve. Services call these; templates use
them only to decide which buttons to show.
"""

from oncall.roles import Role, has_role


def can_declare(user):
    return has_role(user, Role.RESPONDER, Role.INCIDENT_COMMANDER, Role.MANAGER)


def can_command(user, incident):
    if has_role(user, Role.INCIDENT_COMMANDER, Role.MANAGER):
        return True
    return user.is_authenticated and incident.commander_id == user.pk


def works_on(user, incident):
    if not user.is_authenticated:
        return False
    if user.pk in (incident.commander_id, incident.technical_lead_id,
                   incident.communications_lead_id):
        return True
    return incident.responders.filter(pk=user.pk).exists()


def can_edit(user, incident):
    if can_command(user, incident):
        return True
    return has_role(user, Role.RESPONDER) and works_on(user, incident)


def can_join(user, incident):
    return has_role(user, Role.RESPONDER, Role.INCIDENT_COMMANDER, Role.MANAGER)


def can_hold_role(user):
    """Anyone but a pure Viewer may be commander, technical or communications lead."""
    return user.is_active and has_role(
        user, Role.RESPONDER, Role.INCIDENT_COMMANDER, Role.MANAGER
    )


def can_send_updates(user, incident):
    """The incident's Communications Lead, its commander, Incident Commanders, Managers."""
    if can_command(user, incident):
        return True
    return user.is_authenticated and incident.communications_lead_id == user.pk


def can_triage(user):
    """Who manages silences and triages problem reports: Incident Commanders, Managers."""
    return user.is_authenticated and has_role(user, Role.INCIDENT_COMMANDER, Role.MANAGER)
