from django.apps import AppConfig


class AppointmentsConfig(AppConfig):
    name = "ajeya.appointments"
    label = "appointments"
    verbose_name = "Appointments"

    def ready(self) -> None:
        from ajeya.appointments.models import Appointment, Clinic, ClinicSession, Closure
        from ajeya.ledger import papers
        from ajeya.ledger.registry import register

        register(Clinic, "appointments.clinic")
        register(ClinicSession, "appointments.session")
        register(Closure, "appointments.closure")
        register(Appointment, "appointments.appointment", subject_attname="number")
        papers.register(Appointment, "Appointment slip")
