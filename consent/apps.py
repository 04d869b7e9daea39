from django.apps import AppConfig
from django.conf import settings
from PIL import Image


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent"

    def ready(self):
        # Anything that decodes an image in this process (samples are checked on upload) refuses a bomb.
        Image.MAX_IMAGE_PIXELS = settings.SAMPLE_MAX_PIXELS
