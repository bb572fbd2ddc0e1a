"""Regenerates the demo soft-copy images in this folder (needs Pillow: pip install pillow).

The demo seed stores these as the JPEG/PNG/TIFF soft copies of some invoices; PDFs are
generated per invoice in Rust (infra/src/samples.rs). Run: python3 make_samples.py
"""
from PIL import Image, ImageDraw

def scan(label):
    img = Image.new("RGB", (320, 420), "white")
    d = ImageDraw.Draw(img)
    d.rectangle([10, 10, 310, 410], outline="black", width=2)
    d.text((24, 24), "ledgerdock demo invoice scan", fill="black")
    d.text((24, 44), label, fill="black")
    for i in range(8):
        y = 90 + i * 30
        d.line([24, y, 296, y], fill=(180, 180, 180))
        d.text((28, y + 6), f"Line {i + 1}   Widget   1 x 10.00", fill="black")
    d.text((24, 370), "TOTAL  ...", fill="black")
    return img

scan("JPEG soft copy").save("sample.jpg", "JPEG", quality=70)
scan("PNG soft copy").convert("L").save("sample.png", "PNG", optimize=True)
scan("TIFF soft copy").convert("1").save("sample.tiff", "TIFF", compression="group4")
