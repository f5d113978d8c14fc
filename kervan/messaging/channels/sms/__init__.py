"""SMS transports (Netgsm, Twilio, a generic HTTP API), the GSM-7/UCS-2 length count the SMS editor shows, and the
providers' webhooks (delivery reports, inbound replies). kervan.messaging.channels picks the provider from
settings.KERVAN_SMS."""
