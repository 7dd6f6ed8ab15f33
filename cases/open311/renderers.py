"""GeoReport v2 responses in JSON and XML, always UTF-8.

The XML is the specification's: a root element per response
(`<services>`, `<service_requests>`, `<service_definition>`,
`<discovery>`, `<errors>`), one element per item, and the lists inside an
item named after their singular (`<attributes><attribute>`,
`<endpoints><endpoint>`, `<formats><format>`, `<values><value>`).
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from rest_framework.renderers import BaseRenderer, JSONRenderer

# A list inside an item, and what each of its elements is called.
LIST_ITEMS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


class Open311JSONRenderer(JSONRenderer):
    charset = "utf-8"


class Open311XMLRenderer(BaseRenderer):
    media_type = "text/xml"
    format = "xml"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        context = renderer_context or {}
        response = context.get("response")
        view = context.get("view")
        if response is not None and response.status_code >= 400:
            root, item = "errors", "error"
        else:
            root, item = getattr(view, "xml_root", "response"), getattr(view, "xml_item", "item")
        element = Element(root)
        if isinstance(data, list):
            for row in data:
                _fill(SubElement(element, item), row)
        else:
            _fill(element, data)
        return tostring(element, encoding="utf-8", xml_declaration=True)


def _fill(element: Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(SubElement(element, key), child)
    elif isinstance(value, list | tuple):
        name = LIST_ITEMS.get(element.tag, "item")
        for child in value:
            _fill(SubElement(element, name), child)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
