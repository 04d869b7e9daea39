from django.core.mail.backends.base import BaseEmailBackend

from identity.services import outbox_message_add


class OutboxEmailBackend(BaseEmailBackend):
    """Development e-mail backend: writes each message to the dev outbox."""

    def send_messages(self, email_messages):
        for message in email_messages:
            for recipient in message.recipients():
                outbox_message_add(channel="email", to=recipient, subject=message.subject, body=message.body)
        return len(email_messages)
