"""The half-year work report (半年工作报告) generated as DOCX, PDF and XLSX."""
